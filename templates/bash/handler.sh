#!/usr/bin/env bash
# __NAME__: a classic Trellis function, forked once per request (OpenFaaS classic watchdog):
# the request body arrives on stdin, stdout is the response, stderr goes to the logs and a
# non-zero exit answers 500. Request details are in Http_Method, Http_Path, Http_Query and
# Http_<Header_Name> (e.g. Http_Content_Type).
set -euo pipefail
body=$(cat)
echo "Hello from __NAME__ (${Http_Method:-POST} ${Http_Path:-/}): ${body}"
