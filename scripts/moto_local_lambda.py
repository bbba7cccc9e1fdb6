#!/usr/bin/env python3
"""moto's server with Lambda functions run as local Python subprocesses.

Stock moto runs Lambda handlers only inside Docker, which the development and CI machines do
not have. This launcher changes three things before it starts moto's own server:

1. ``LambdaFunction.invoke`` unpacks the function's zip once per code version and runs its
   handler in a fresh Python subprocess, with the event on stdin, the function's environment
   (plus the emulator's endpoint and test credentials, so boto3 inside a handler talks to this
   emulator), and the function's Timeout enforced. An uncaught exception is reported as
   ``FunctionError: Unhandled``, as AWS does; a timeout as ``Sandbox.Timedout``.
2. EventBridge rules whose target is a Lambda function invoke it (stock moto raises
   NotImplementedError for that target kind).
3. An SQS queue's visible messages are counted reading the clock once per call, not once per
   message, so sending does not slow down as a queue fills (benchmarks push thousands).

Usage: moto_local_lambda.py [--host 127.0.0.1] [--port 4566]
Environment: MOTO_LOCAL_LAMBDA_PYTHON, the interpreter for handlers (default: this one).
"""

import argparse
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid
import zipfile

# Runs inside the handler's subprocess: imports the handler, calls it with the event from
# stdin and a Lambda-like context, and writes the outcome as JSON to the file named by
# ACTEON_LAMBDA_RESULT (stdout stays free for the handler's own prints, which become logs).
BOOTSTRAP = r"""
import importlib, json, os, sys, time, traceback

class Context:
    def __init__(self):
        self.aws_request_id = os.environ["ACTEON_LAMBDA_REQUEST_ID"]
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ["ACTEON_LAMBDA_ARN"]
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self._deadline = time.monotonic() + float(os.environ["AWS_LAMBDA_FUNCTION_TIMEOUT"])

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

def main():
    sys.path.insert(0, os.getcwd())
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    outcome = {}
    try:
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
        event = json.loads(sys.stdin.read() or "{}")
        outcome = {"ok": True, "result": handler(event, Context())}
    except Exception as error:
        traceback.print_exc()
        outcome = {"ok": False, "result": {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_exc().splitlines(),
        }}
    with open(os.environ["ACTEON_LAMBDA_RESULT"], "w") as out:
        json.dump(outcome, out, default=str)

main()
"""

_code_dirs = {}
_code_lock = threading.Lock()


def code_dir(function):
    """The function's code unpacked, once per code version (keyed by the zip's digest)."""
    digest = hashlib.sha256(function.code_bytes).hexdigest()
    with _code_lock:
        path = _code_dirs.get(digest)
        if path is None:
            path = tempfile.mkdtemp(prefix=f"lambda-{function.function_name}-")
            with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                archive.extractall(path)
            _code_dirs[digest] = path
        return path


def run_handler(function, event, port):
    """Runs the handler once. Returns (payload bytes, function error or None, log text)."""
    if not (function.run_time or "").startswith("python"):
        error = {
            "errorMessage": f"runtime {function.run_time} is not run by this emulator",
            "errorType": "Runtime.Unsupported",
        }
        return json.dumps(error).encode(), "Unhandled", ""
    request_id = str(uuid.uuid4())
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(function.environment_vars or {})
    env.update(
        {
            "_HANDLER": function.handler,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "ACTEON_LAMBDA_REQUEST_ID": request_id,
            "ACTEON_LAMBDA_ARN": function.function_arn,
        }
    )
    python = os.environ.get("MOTO_LOCAL_LAMBDA_PYTHON", sys.executable)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as result_file:
        env["ACTEON_LAMBDA_RESULT"] = result_file.name
    try:
        try:
            done = subprocess.run(
                [python, "-c", BOOTSTRAP],
                input=json.dumps(event).encode(),
                cwd=code_dir(function),
                env=env,
                capture_output=True,
                timeout=float(function.timeout),
            )
        except subprocess.TimeoutExpired as expired:
            logs = (expired.stdout or b"") + (expired.stderr or b"")
            error = {
                "errorMessage": f"Task timed out after {float(function.timeout):.2f} seconds",
                "errorType": "Sandbox.Timedout",
            }
            return json.dumps(error).encode(), "Unhandled", logs.decode(errors="replace")
        logs = (done.stdout + done.stderr).decode(errors="replace")
        try:
            with open(result_file.name) as handle:
                outcome = json.load(handle)
        except (OSError, ValueError):
            # The process died before the bootstrap could write (a crash, os._exit, a kill).
            outcome = {
                "ok": False,
                "result": {
                    "errorMessage": f"the handler process exited with {done.returncode}",
                    "errorType": "Runtime.ExitError",
                },
            }
    finally:
        os.unlink(result_file.name)
    payload = json.dumps(outcome["result"]).encode()
    return payload, None if outcome["ok"] else "Unhandled", logs


def patch_lambda(port):
    from moto.awslambda.models import LambdaFunction

    def invoke(self, body, request_headers, response_headers):
        event = json.loads(body) if body else {}
        payload, function_error, logs = run_handler(self, event, port)
        self.logs_backend.ensure_log_group(self.logs_group_name)
        self.save_logs(logs or f"invoked {self.function_name}")
        if function_error:
            response_headers["x-amz-function-error"] = function_error
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type != "RequestResponse":
            # Event and DryRun answer with an empty body (202 / 204, set by moto).
            return b""
        # LogType=Tail: the last 4 KB of the logs, base64, as AWS returns them.
        tail = logs.encode()[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
        return payload

    LambdaFunction.invoke = invoke


def patch_eventbridge_lambda_targets():
    from moto.awslambda.models import lambda_backends
    from moto.events.models import EventTemplateParser, Rule
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        if not self.event_pattern.matches_event(original_event):
            return
        others = []
        for target in self.targets:
            arn = parse_arn(target["Arn"])
            if arn.service != "lambda":
                others.append(target)
                continue
            if "Input" in target:
                event = json.loads(target["Input"])
            elif transform_input:
                transformer = target.get("InputTransformer", {})
                event = EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=original_event,
                )
            else:
                event = original_event.copy()
            backend = lambda_backends[arn.account][arn.region]
            backend.get_function(target["Arn"]).invoke(
                json.dumps(event, default=str),
                {"x-amz-invocation-type": "Event"},
                {},
            )
        if others:
            # Stock moto handles every other target kind; it sees only those.
            all_targets = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = all_targets

    Rule.send_to_targets = send_to_targets


def patch_sqs_counting():
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue

    def messages(self):
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and now >= m.delayed_until]

    Queue.messages = property(messages)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args()
    os.environ["MOTO_PORT"] = str(args.port)
    # The seed's scripts name account 000000000000 in their ARNs and queue URLs (LocalStack's
    # default); moto's default is 123456789012.
    os.environ.setdefault("MOTO_ACCOUNT_ID", "000000000000")
    patch_lambda(args.port)
    patch_eventbridge_lambda_targets()
    patch_sqs_counting()
    from moto.server import main as moto_main

    moto_main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
