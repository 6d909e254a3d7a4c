"""`terraform apply` and `destroy` of the `local` env against a moto server, with the built Lambda zips
(the session fixture `local_stage` of support.terraform_stage, shared with tests/iam).

The applied stage is then checked through the AWS APIs (as a deployed stage would be), and the Lambda
environments Terraform set are checked against the settings the code reads, so the two cannot drift.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import botocore.exceptions
import pytest

from support.terraform_stage import AppliedStage
from terraform.tfhelpers import state_resources
from upload_common.settings import ENV_PREFIX, Settings

pytestmark = pytest.mark.slow

# boto3's own variables may appear too (DESIGN §8); nothing else may.
BOTO3_VARIABLES = ("AWS_ENDPOINT_URL",)
EXPECTED_HANDLERS = {
    "upload-local-api": "upload_api.lambda_handlers.api_handler",
    "upload-local-checksum": "upload_checksum.lambda_handlers.handler",
    "upload-local-checksum-reaper": "upload_checksum.lambda_handlers.reaper_handler",
    "upload-local-deletion": "upload_api.lambda_handlers.deletion_handler",
    "upload-local-scheduler": "upload_api.lambda_handlers.scheduler_handler",
    "upload-local-dispatcher": "upload_api.lambda_handlers.dispatcher_handler",
    "upload-local-validation-sweep": "upload_api.lambda_handlers.validation_sweep_handler",
    "upload-local-reconcile": "upload_checksum.lambda_handlers.reconcile_handler",
    "upload-local-area-expiry": "upload_api.lambda_handlers.area_expiry_handler",
    "upload-local-migrate": "upload_common.migration_handler.handler",
    "upload-local-health-report": "upload_api.lambda_handlers.health_report_handler",
}


def test_apply_creates_the_whole_stage(local_stage: AppliedStage) -> None:
    resources = state_resources(local_stage.state)
    report = os.environ.get("UPLOAD_TF_REPORT")
    if report:  # CI keeps the numbers the issue asks for: apply time and resource count
        numbers = {"apply_seconds": round(local_stage.apply_seconds, 1), "resource_count": len(resources)}
        Path(report).write_text(json.dumps(numbers))
    kinds = {r["type"] for r in resources}
    for kind in (
        "aws_db_instance",
        "aws_s3_bucket_notification",
        "aws_apigatewayv2_api",
        "aws_batch_job_queue",
        "aws_lambda_event_source_mapping",
        "aws_cloudwatch_event_rule",
        "aws_secretsmanager_secret",
        "aws_sns_topic",
        "aws_cloudwatch_metric_alarm",
    ):
        assert kind in kinds, f"the local stage lacks {kind}"
    assert len(resources) > 100


def test_functions_run_the_package_entry_points_from_the_built_zips(local_stage: AppliedStage) -> None:
    functions = local_stage.client("lambda").list_functions()["Functions"]
    assert {f["FunctionName"]: f["Handler"] for f in functions} == EXPECTED_HANDLERS
    assert {f["Runtime"] for f in functions} == {"python3.11"}
    assert set(local_stage.outputs["lambda_function_names"]["value"].values()) == set(EXPECTED_HANDLERS)


def test_lambda_environments_use_only_settings_fields(local_stage: AppliedStage) -> None:
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    environments = {
        r["values"]["function_name"]: (r["values"].get("environment") or [{}])[0].get("variables") or {}
        for r in state_resources(local_stage.state)
        if r["type"] == "aws_lambda_function"
    }
    assert set(environments) == set(EXPECTED_HANDLERS)
    for function, variables in environments.items():
        unknown = sorted(
            name for name in variables if name not in fields and not name.startswith(BOTO3_VARIABLES)
        )
        assert not unknown, f"{function} gets variables that no setting reads: {unknown}"
        # The migration function logs in with the master secret; the services with IAM tokens as their role.
        if function == "upload-local-migrate":
            assert set(variables) == {"UPLOAD_DATABASE_URL", "UPLOAD_DATABASE_SECRET_ARN"}
            continue
        assert {
            "UPLOAD_STORAGE_URL",
            "UPLOAD_QUEUE_URL",
            "UPLOAD_DATABASE_IAM_AUTH",
            "UPLOAD_DATABASE_USER",
        } <= set(variables)
        assert "UPLOAD_DATABASE_SECRET_ARN" not in variables
        # Secret values never travel in the environment, only the ARNs of their secrets.
        assert not {"UPLOAD_API_KEYS", "UPLOAD_INGEST_SECRET", "UPLOAD_SECRET_KEY"} & set(variables)


def test_lambda_environment_points_at_the_applied_resources(local_stage: AppliedStage) -> None:
    client = local_stage.client("lambda")
    variables = client.get_function_configuration(FunctionName="upload-local-checksum")["Environment"][
        "Variables"
    ]
    settings = Settings(**{k.removeprefix(ENV_PREFIX).lower(): v for k, v in variables.items()})
    assert settings.storage_url == f"s3://{local_stage.outputs['s3_bucket_id']['value']}"
    assert settings.job_runner == "aws-batch"
    sqs = local_stage.client("sqs")
    for name in ("checksum", "deletion", "validation"):
        url = f"{settings.queue_url}-{name}"
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["maxReceiveCount"] == 4
        assert redrive["deadLetterTargetArn"].endswith(f"upload-local-{name}-dlq")
    queues = local_stage.client("batch").describe_job_queues(jobQueues=[variables["UPLOAD_BATCH_JOB_QUEUE"]])
    assert queues["jobQueues"][0]["jobQueueName"] == "upload-local-checksum"


def test_objects_created_in_the_bucket_are_announced_to_the_checksum_queue(local_stage: AppliedStage) -> None:
    bucket = local_stage.outputs["s3_bucket_id"]["value"]
    configuration = local_stage.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    (queue,) = configuration["QueueConfigurations"]
    assert queue["QueueArn"].rsplit(":", 1)[1] == "upload-local-checksum"
    assert set(queue["Events"]) == {
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
    }


def test_bucket_refuses_requests_without_tls(local_stage: AppliedStage) -> None:
    bucket = local_stage.outputs["s3_bucket_id"]["value"]
    # The emulator speaks plain HTTP, so the bucket policy's aws:SecureTransport condition applies.
    with pytest.raises(botocore.exceptions.ClientError, match=r"Forbidden|AccessDenied"):
        local_stage.client("s3").put_object(Bucket=bucket, Key="area-1/file.fastq", Body=b"ACGT")


def test_queue_consumers_report_partial_batch_failures(local_stage: AppliedStage) -> None:
    mappings = local_stage.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    consumers = {m["FunctionArn"].rsplit(":", 1)[1]: m for m in mappings}
    assert set(consumers) == {"upload-local-checksum", "upload-local-deletion", "upload-local-scheduler"}
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in consumers.values())


def test_database_is_private_encrypted_and_has_a_managed_password(local_stage: AppliedStage) -> None:
    (instance,) = local_stage.client("rds").describe_db_instances(DBInstanceIdentifier="upload-local")[
        "DBInstances"
    ]
    assert instance["PubliclyAccessible"] is False
    assert instance["StorageEncrypted"] is True
    assert instance["BackupRetentionPeriod"] >= 1
    assert (
        instance["MasterUserSecret"]["SecretArn"]
        == local_stage.outputs["db_instance_master_user_secret_arn"]["value"]
    )


def test_bucket_blocks_public_access(local_stage: AppliedStage) -> None:
    bucket = local_stage.outputs["s3_bucket_id"]["value"]
    block = local_stage.client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert len(block) == 4


def test_the_stage_is_watched_by_alarms_on_one_encrypted_topic(local_stage: AppliedStage) -> None:
    topics = [t["TopicArn"] for t in local_stage.client("sns").list_topics()["Topics"]]
    [topic] = [arn for arn in topics if arn.endswith(":upload-local-alarms")]
    attributes = local_stage.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"]
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert set(statement["Principal"]["Service"]) == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}

    alarms = local_stage.client("cloudwatch").describe_alarms(AlarmNamePrefix="upload-local-")["MetricAlarms"]
    by_name = {alarm["AlarmName"]: alarm for alarm in alarms}
    functions = {f.removeprefix("upload-local-").replace("-", "_") for f in EXPECTED_HANDLERS}
    expected = (
        {f"upload-local-{kind}-{queue}" for kind in ("dead-letters", "oldest-message") for queue in QUEUES}
        | {f"upload-local-{kind}-{function}" for kind in ("errors", "throttles") for function in functions}
        | {"upload-local-api-5xx", "upload-local-notifications-failed"}
        | {f"upload-local-database-{what}" for what in ("cpu", "free-storage", "connections")}
    )
    assert set(by_name) == expected
    assert all(alarm["AlarmActions"] == [topic] for alarm in alarms)
    assert by_name["upload-local-dead-letters-checksum"]["Dimensions"] == [
        {"Name": "QueueName", "Value": "upload-local-checksum-dlq"}
    ]
    assert by_name["upload-local-notifications-failed"]["Namespace"] == "dcp-upload"

    events = local_stage.client("events")
    pattern = json.loads(events.describe_rule(Name="upload-local-batch-job-failed")["EventPattern"])
    assert (pattern["source"], pattern["detail"]["status"]) == (["aws.batch"], ["FAILED"])
    [target] = events.list_targets_by_rule(Rule="upload-local-batch-job-failed")["Targets"]
    assert target["Arn"] == topic
    schedule = events.describe_rule(Name="upload-local-health-report")["ScheduleExpression"]
    assert schedule.startswith("cron(")
    [target] = events.list_targets_by_rule(Rule="upload-local-health-report")["Targets"]
    assert target["Arn"].endswith(":function:upload-local-health-report")


def test_queues_keep_messages_14_days_and_outlive_six_consumer_timeouts(local_stage: AppliedStage) -> None:
    sqs = local_stage.client("sqs")
    lambdas = local_stage.client("lambda")
    consumers = {"checksum": "checksum", "deletion": "deletion", "validation": "scheduler"}
    for queue, consumer in consumers.items():
        for name in (f"upload-local-{queue}", f"upload-local-{queue}-dlq"):
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            assert attributes["MessageRetentionPeriod"] == "1209600", name
        timeout = lambdas.get_function_configuration(FunctionName=f"upload-local-{consumer}")["Timeout"]
        url = sqs.get_queue_url(QueueName=f"upload-local-{queue}")["QueueUrl"]
        visibility = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])[
            "Attributes"
        ]
        assert int(visibility["VisibilityTimeout"]) >= 6 * timeout, queue


QUEUES = ("checksum", "deletion", "validation")


BUILTIN_VALIDATOR_IMAGES = ("validator-fastq", "validator-gzip", "validator-json")


def test_registry_repositories_are_immutable_scanned_and_expire_old_images(local_stage: AppliedStage) -> None:
    ecr = local_stage.client("ecr")
    repositories = {
        r["repositoryName"]: r
        for r in ecr.describe_repositories()["repositories"]
        if r["repositoryName"].startswith("upload-local/")
    }
    assert set(repositories) == {
        f"upload-local/{i}" for i in ("checksum", "validator-base", *BUILTIN_VALIDATOR_IMAGES)
    }
    assert local_stage.outputs["ecr_repository_urls"]["value"] == {
        name.split("/", 1)[1]: r["repositoryUri"] for name, r in repositories.items()
    }
    for name, repository in repositories.items():
        assert repository["imageTagMutability"] == "IMMUTABLE", name
        assert repository["imageScanningConfiguration"]["scanOnPush"], name
        assert repository["encryptionConfiguration"]["encryptionType"] == "KMS", name
        rules = json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])["rules"]
        assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "tagged"], name


def test_artifacts_bucket_is_versioned_encrypted_and_private(local_stage: AppliedStage) -> None:
    s3 = local_stage.client("s3")
    bucket = local_stage.outputs["s3_artifacts_bucket_id"]["value"]
    assert bucket == "upload-local-artifacts"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert len(block) == 4


def test_jobs_run_the_images_of_the_stages_registry(local_stage: AppliedStage) -> None:
    urls = local_stage.outputs["ecr_repository_urls"]["value"]
    lambdas = local_stage.client("lambda")
    checksum = lambdas.get_function_configuration(FunctionName="upload-local-checksum")["Environment"][
        "Variables"
    ]
    assert checksum["UPLOAD_CHECKSUM_JOB_IMAGE"] == f"{urls['checksum']}:local"
    scheduler = lambdas.get_function_configuration(FunctionName="upload-local-scheduler")["Environment"][
        "Variables"
    ]
    assert json.loads(scheduler["UPLOAD_VALIDATOR_IMAGES"]) == [
        f"{urls[i]}:local" for i in BUILTIN_VALIDATOR_IMAGES
    ]
