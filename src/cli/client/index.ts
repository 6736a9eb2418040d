/** The CLI's gateway client: HTTP API, credentials, stack files, deploy flow, templates. */
export { GatewayClient, GatewayError, type LogMessage, type InvokeOptions, type BundleUploadResult, type AsyncCallState } from './gateway-client.js';
export { configDir, credentialsFile, loadCredentials, saveCredentials, resolveGateway, normaliseGatewayUrl, DEFAULT_GATEWAY, type Credentials } from './config.js';
export { readStack, substituteEnv, type Stack, type StackFunction } from './stack.js';
export { deployStack, deployStackFunction, buildStackFunction, type DeployOptions } from './deploy.js';
export { createFromTemplate, addToStack, listTemplates, templatesDir, packageRoot } from './templates.js';
