"""The sandbox's recordings: copied to the customer's bucket, as Tavus does.

Tavus records the room, copies the file to the S3 bucket named in the conversation's
properties (recording_s3_bucket_name, with the role it may assume) and only then sends
application.recording_ready with the bucket and key; when the copy fails it sends
application.recording_copy_failed with an error_message (tavus-api.md §2.2, §5.3). With
settings.SANDBOX_RECORDING_COPY the sandbox does the same with a short video of its own
(static/sandbox/recording.webm), through boto3 with this environment's AWS credentials and
endpoint (AWS_ENDPOINT_URL_S3 points it at any S3-compatible server).
"""

from pathlib import Path

VIDEO = Path(__file__).parent / "static" / "sandbox" / "recording.webm"


def copy_to_bucket(bucket: str, key: str, region: str = "") -> str:
    """Put the sandbox's video at s3://bucket/key. Returns "" when done, else what failed."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2})
    try:
        client = boto3.client("s3", region_name=region or None, config=config)
        client.put_object(Bucket=bucket, Key=key, Body=VIDEO.read_bytes(), ContentType="video/webm")
    except ClientError as error:
        detail = error.response.get("Error", {})
        problem = f"{detail.get('Code')} {detail.get('Message') or ''}".strip()
        return f"Could not write to s3://{bucket}/{key}: {problem}"
    except BotoCoreError as error:
        return f"Could not write to s3://{bucket}/{key}: {error}"
    return ""
