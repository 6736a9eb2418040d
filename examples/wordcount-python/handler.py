# Example: a python3 function. curl -d 'the quick brown fox' http://127.0.0.1:8080/function/wordcount-python
from collections import Counter


def handle(req):
    words = req.text().split()
    return {"words": len(words), "top": Counter(w.lower() for w in words).most_common(3)}
