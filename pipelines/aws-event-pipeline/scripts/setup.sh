#!/usr/bin/env bash
# Creates the seed pipeline's AWS resources in the local emulator (scripts/services.sh up aws),
# idempotently: SNS topic, SQS queues, EventBridge bus, the two Lambda functions (handlers in
# ../lambdas/), the DynamoDB state and audit tables, the S3 bucket.
# Only ever talks to http://127.0.0.1:4566 (ACTEON_AWS_PORT overrides the port).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="$repo/.infra/venv/bin/python"
if [[ ! -x $python ]]; then
  echo "setup: no emulator venv; run scripts/services.sh up aws first" >&2
  exit 1
fi
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
exec "$python" - "$here/lambdas" "http://127.0.0.1:${ACTEON_AWS_PORT:-4566}" <<'PY'
import io, os, sys, zipfile
import boto3
from botocore.exceptions import ClientError

lambdas, endpoint = sys.argv[1], sys.argv[2]
client = lambda service: boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")

def exists_ok(call, *codes):
    try:
        call()
    except ClientError as error:
        if error.response["Error"]["Code"] not in codes:
            raise

sns, sqs, events = client("sns"), client("sqs"), client("events")
topic = sns.create_topic(Name="building-alerts")["TopicArn"]
for queue in ["telemetry-metrics", "telemetry-dlq"]:
    sqs.create_queue(QueueName=queue)
exists_ok(lambda: events.create_event_bus(Name="building-events"), "ResourceAlreadyExistsException")

aws_lambda = client("lambda")
# moto checks that the execution role exists.
iam = client("iam")
exists_ok(lambda: iam.create_role(RoleName="acteon-lambda", AssumeRolePolicyDocument=(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
    '"Principal":{"Service":"lambda.amazonaws.com"}}]}')), "EntityAlreadyExists")
role = iam.get_role(RoleName="acteon-lambda")["Role"]["Arn"]
for name, module in [("anomaly-detector", "anomaly_detector"),
                     ("telemetry-normalizer", "telemetry_normalizer")]:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(os.path.join(lambdas, module + ".py"), module + ".py")
    code = archive.getvalue()
    try:
        aws_lambda.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                   Handler=module + ".handler", Code={"ZipFile": code},
                                   Timeout=10)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceConflictException":
            raise
        aws_lambda.update_function_code(FunctionName=name, ZipFile=code)

dynamodb = client("dynamodb")
for table in ["acteon_state", "acteon_audit"]:
    exists_ok(lambda: dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}]), "ResourceInUseException")
# The audit sink writes each record's expiry (epoch seconds) in expires_at_ttl.
dynamodb.update_time_to_live(TableName="acteon_audit", TimeToLiveSpecification={
    "Enabled": True, "AttributeName": "expires_at_ttl"})
dynamodb.update_time_to_live(TableName="acteon_state", TimeToLiveSpecification={
    "Enabled": True, "AttributeName": "expires_at"})

exists_ok(lambda: client("s3").create_bucket(Bucket="building-telemetry"),
          "BucketAlreadyOwnedByYou", "BucketAlreadyExists")
print(f"setup: resources ready at {endpoint} (topic {topic})")
PY
