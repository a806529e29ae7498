"""Playing a recording in the page, from the customer's own bucket.

Tavus copies each recording to the S3 bucket the launch named and says where (bucket_name and
s3_key; era B a storage_uri, tavus-api.md §5.3). The studio never holds the video: when its
AWS credentials may read the object (boto3's usual places: AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY in the environment, a profile, or the server's instance role; an
S3-compatible server through AWS_ENDPOINT_URL_S3), the page plays it from a presigned link
that works for RECORDING_LINK_SECONDS. When they may not, the page says exactly what to
configure.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

_TIMEOUTS = {"connect_timeout": 3, "read_timeout": 5, "retries": {"max_attempts": 1}}


@dataclass(frozen=True)
class Playback:
    url: str = ""  # the presigned link, when the studio may read the recording
    problem: str = ""  # otherwise: why not, and what to configure
    origin: str = ""  # the link's scheme://host, for the page's media-src

    @property
    def playable(self) -> bool:
        return bool(self.url)


def location(recording) -> tuple[str, str]:
    """(bucket, key) of an S3 recording, or ("", "") for other storage."""
    if not isinstance(recording, dict):
        return "", ""
    bucket, key = recording.get("bucket_name"), recording.get("s3_key")
    if isinstance(bucket, str) and isinstance(key, str) and bucket and key:
        return bucket, key
    uri = recording.get("storage_uri")
    if isinstance(uri, str) and uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        if bucket and key:
            return bucket, key
    return "", ""


def _grant(bucket: str, key: str) -> str:
    folder = key.rsplit("/", 1)[0] + "/*" if "/" in key else "*"
    return f"s3:GetObject on arn:aws:s3:::{bucket}/{folder}"


def _code(error) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _bucket_missing(client, bucket: str) -> bool:
    """A HEAD of a missing object and of an object in a missing bucket are both a bare 404
    (a HEAD answer has no body to say which): ask about the bucket itself."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        return _code(error) in ("404", "NoSuchBucket", "NotFound")
    except BotoCoreError:
        return False
    return False


def playback(recording, region: str = "") -> Playback:
    """A short-lived link to play this recording, or what stands in the way."""
    bucket, key = location(recording)
    if not bucket:
        return Playback(
            problem="This recording is kept outside Amazon S3, where the studio cannot play it "
            "from; open it in that storage."
        )
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    session = boto3.session.Session()
    if session.get_credentials() is None:
        return Playback(
            problem=f"The studio has no AWS credentials, so it cannot play this recording. "
            f"Give the server read access to the bucket: set AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY (and AWS_DEFAULT_REGION) in its environment, or run it "
            f"with an instance role, allowed {_grant(bucket, key)}. Then reload this page."
        )
    client = session.client(
        "s3", region_name=region or None, config=Config(signature_version="s3v4", **_TIMEOUTS)
    )
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = _code(error)
        if code in ("404", "NoSuchKey", "NotFound") and _bucket_missing(client, bucket):
            problem = f"The bucket {bucket} does not exist for the studio's AWS account."
        elif code in ("404", "NoSuchKey", "NotFound"):
            problem = (
                f"The recording is not in the bucket: s3://{bucket}/{key} does not exist "
                "(it was moved or deleted, or Tavus has not finished copying it)."
            )
        else:
            problem = (
                f"The studio's AWS credentials may not read this recording ({code or 'refused'}). "
                f"Allow them {_grant(bucket, key)}."
            )
        return Playback(problem=problem)
    except NoCredentialsError:
        return Playback(problem="The studio's AWS credentials could not be loaded.")
    except BotoCoreError as error:
        return Playback(problem=f"The studio could not reach S3 to play the recording: {error}")
    url = client.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key},
        ExpiresIn=settings.RECORDING_LINK_SECONDS,
    )
    parts = urlsplit(url)
    return Playback(url=url, origin=f"{parts.scheme}://{parts.netloc}")
