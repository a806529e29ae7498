"""Rules for the launch settings a preset stores, shared by the model and its form."""

import ipaddress
import re
import warnings

from django.core.exceptions import ValidationError

from studio.tavus.languages import is_supported

# Tavus assumes this IAM role to write recordings (tavus-api.md §2.2, conversation-recordings).
TAVUS_AWS_ACCOUNT = "291871421005"
TAVUS_EXTERNAL_ID = "tavus"

AWS_REGIONS = [
    ("us-east-1", "US East (N. Virginia)"),
    ("us-east-2", "US East (Ohio)"),
    ("us-west-1", "US West (N. California)"),
    ("us-west-2", "US West (Oregon)"),
    ("ca-central-1", "Canada (Central)"),
    ("ca-west-1", "Canada West (Calgary)"),
    ("mx-central-1", "Mexico (Central)"),
    ("sa-east-1", "South America (São Paulo)"),
    ("eu-west-1", "Europe (Ireland)"),
    ("eu-west-2", "Europe (London)"),
    ("eu-west-3", "Europe (Paris)"),
    ("eu-central-1", "Europe (Frankfurt)"),
    ("eu-central-2", "Europe (Zurich)"),
    ("eu-north-1", "Europe (Stockholm)"),
    ("eu-south-1", "Europe (Milan)"),
    ("eu-south-2", "Europe (Spain)"),
    ("af-south-1", "Africa (Cape Town)"),
    ("me-south-1", "Middle East (Bahrain)"),
    ("me-central-1", "Middle East (UAE)"),
    ("il-central-1", "Israel (Tel Aviv)"),
    ("ap-east-1", "Asia Pacific (Hong Kong)"),
    ("ap-south-1", "Asia Pacific (Mumbai)"),
    ("ap-south-2", "Asia Pacific (Hyderabad)"),
    ("ap-northeast-1", "Asia Pacific (Tokyo)"),
    ("ap-northeast-2", "Asia Pacific (Seoul)"),
    ("ap-northeast-3", "Asia Pacific (Osaka)"),
    ("ap-southeast-1", "Asia Pacific (Singapore)"),
    ("ap-southeast-2", "Asia Pacific (Sydney)"),
    ("ap-southeast-3", "Asia Pacific (Jakarta)"),
    ("ap-southeast-4", "Asia Pacific (Melbourne)"),
    ("ap-southeast-5", "Asia Pacific (Malaysia)"),
    ("ap-southeast-7", "Asia Pacific (Thailand)"),
]
AWS_REGION_CHOICES = [(code, f"{code} — {name}") for code, name in AWS_REGIONS]

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html
ROLE_ARN = re.compile(
    r"^arn:aws:iam::(?P<account>\d{12}):role/(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{1,64})$"
)


def validate_s3_bucket_name(value: str) -> None:
    if not 3 <= len(value) <= 63:
        raise ValidationError("A bucket name is 3 to 63 characters long.", code="bucket_length")
    if value != value.lower() or not _BUCKET_CHARS.match(value):
        raise ValidationError(
            "A bucket name uses only lowercase letters, digits, dots and hyphens, and starts "
            "and ends with a letter or digit.",
            code="bucket_chars",
        )
    if ".." in value or ".-" in value or "-." in value:
        raise ValidationError(
            "A bucket name can't have two dots in a row, or a dot next to a hyphen.",
            code="bucket_dots",
        )
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        pass
    else:
        raise ValidationError("A bucket name can't look like an IP address.", code="bucket_ip")
    if value.startswith(_BUCKET_PREFIXES) or value.endswith(_BUCKET_SUFFIXES):
        raise ValidationError(
            "AWS reserves that beginning or ending for its own buckets. Use the name exactly "
            "as it appears in the S3 console.",
            code="bucket_reserved",
        )


def validate_role_arn(value: str) -> None:
    if not ROLE_ARN.match(value):
        raise ValidationError(
            "That isn't an IAM role ARN. It looks like "
            "arn:aws:iam::123456789012:role/TavusRecordings (12-digit account number, then "
            "the role name).",
            code="role_arn",
        )


def validate_aws_region(value: str) -> None:
    if value not in dict(AWS_REGIONS):
        raise ValidationError("Pick the AWS region the bucket lives in.", code="region")


def validate_language(value: str) -> None:
    if not is_supported(value):
        raise ValidationError(
            "Tavus doesn't support “%(value)s”. Pick a language from the list.",
            code="language",
            params={"value": value},
        )


def mask_role_arn(value: str) -> str:
    """The ARN with all but the last four digits of the account number hidden."""
    match = ROLE_ARN.match(value or "")
    if not match:
        return value
    account = match["account"]
    return value.replace(account, "*" * 8 + account[-4:], 1)


# --- The participant page's background picture ------------------------------------------------

# Pillow's format name → the extension the file is stored under (and served by).
BACKGROUND_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
BACKGROUND_MAX_BYTES = 5 * 1024 * 1024
BACKGROUND_MIN_SIZE = (320, 240)
BACKGROUND_MAX_SIZE = (4096, 4096)


def validate_background_image(file) -> str:
    """Check an uploaded background by its content, not its name; returns its extension."""
    from PIL import Image

    if file.size > BACKGROUND_MAX_BYTES:
        raise ValidationError(
            "The picture is %(size).1f MB; the limit is 5 MB. Save it smaller (a JPEG of the "
            "screen's size is plenty) and upload it again.",
            code="background_size",
            params={"size": file.size / (1024 * 1024)},
        )
    try:
        file.seek(0)
        with warnings.catch_warnings():
            # Opening reads the header only; the size rule below refuses huge pictures.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                kind, (width, height) = image.format, image.size
    except Image.DecompressionBombError:
        raise ValidationError(
            "The picture has far too many pixels. Use at most %(max_w)d×%(max_h)d.",
            code="background_large",
            params=dict(zip(("max_w", "max_h"), BACKGROUND_MAX_SIZE, strict=True)),
        ) from None
    except Exception:  # Pillow raises many kinds for files that aren't pictures
        kind, width, height = None, 0, 0
    finally:
        file.seek(0)
    if kind not in BACKGROUND_FORMATS:
        raise ValidationError(
            "This file isn't a PNG, JPEG or WebP picture. Save it as one of those and upload "
            "it again.",
            code="background_type",
        )
    (min_w, min_h), (max_w, max_h) = BACKGROUND_MIN_SIZE, BACKGROUND_MAX_SIZE
    if width < min_w or height < min_h:
        raise ValidationError(
            "The picture is %(w)d×%(h)d pixels: too small to fill the screen. Use at least "
            "%(min_w)d×%(min_h)d.",
            code="background_small",
            params={"w": width, "h": height, "min_w": min_w, "min_h": min_h},
        )
    if width > max_w or height > max_h:
        raise ValidationError(
            "The picture is %(w)d×%(h)d pixels; the most is %(max_w)d×%(max_h)d. Make it "
            "smaller and upload it again.",
            code="background_large",
            params={"w": width, "h": height, "max_w": max_w, "max_h": max_h},
        )
    return BACKGROUND_FORMATS[kind]
