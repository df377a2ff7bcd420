#!/usr/bin/env python3
"""Time one question against a running govassist: time to the `sources` event,
time to the first `token`, and decode speed as the server reports it.

    scripts/chat-timing.py [--url http://127.0.0.1:8080] "教师资格证证书验证需要什么材料？"

Standard library only, so it runs on any machine with Python 3.
"""
import argparse
import json
import time
import urllib.request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    args = parser.parse_args()

    body = json.dumps({"message": args.question}).encode()
    request = urllib.request.Request(
        args.url + "/v1/chat", data=body,
        headers={"content-type": "application/json", "accept": "text/event-stream"})
    started = time.monotonic()
    marks, answer, done, name = {}, [], None, None
    with urllib.request.urlopen(request, timeout=600) as response:
        for raw in response:
            line = raw.decode("utf-8").rstrip("\n")
            if line.startswith("event:"):
                name = line[6:].strip()
                marks.setdefault(name, time.monotonic() - started)
            elif line.startswith("data:") and name:
                data = json.loads(line[5:])
                if name == "token":
                    answer.append(data["text"])
                elif name == "done":
                    done = data
                elif name == "error":
                    raise SystemExit(f"error event: {data}")
    total = time.monotonic() - started
    print("".join(answer))
    print(json.dumps({
        "sources_ms": round(marks.get("sources", 0) * 1000),
        "first_token_ms": round(marks.get("token", 0) * 1000),
        "total_ms": round(total * 1000),
        "prompt_tokens": done and done["prompt_tokens"],
        "generated_tokens": done and done["generated_tokens"],
        "tokens_per_s": done and round(done["tokens_per_s"], 1),
        "citations": done and done["citations"],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
