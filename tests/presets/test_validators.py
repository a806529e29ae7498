import pytest
from django.core.exceptions import ValidationError

from studio.presets.validators import (
    mask_role_arn,
    validate_aws_region,
    validate_language,
    validate_role_arn,
    validate_s3_bucket_name,
)


@pytest.mark.parametrize(
    "name",
    ["acme-recordings", "abc", "a" * 63, "my.bucket.name", "bucket-2025", "1bucket"],
)
def test_good_bucket_names_pass(name):
    validate_s3_bucket_name(name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("Acme", "lowercase"),
        ("acme_recordings", "lowercase"),
        ("-acme", "starts"),
        ("acme-", "starts"),
        ("acme..rec", "two dots"),
        ("acme.-rec", "dot next to a hyphen"),
        ("acme-.rec", "dot next to a hyphen"),
        ("192.168.5.4", "IP address"),
        ("xn--acme", "reserves"),
        ("sthree-acme", "reserves"),
        ("amzn-s3-demo-acme", "reserves"),
        ("acme-s3alias", "reserves"),
        ("acme--ol-s3", "reserves"),
        ("acme.mrap", "reserves"),
        ("acme--x-s3", "reserves"),
        ("acme rec", "lowercase"),
    ],
)
def test_bad_bucket_names_are_refused_with_the_reason(name, why):
    with pytest.raises(ValidationError) as info:
        validate_s3_bucket_name(name)
    assert why in info.value.messages[0]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/TavusRecordings",
        "arn:aws:iam::123456789012:role/service-role/tavus+rec=1,a.b@c-d",
        "arn:aws:iam::000000000000:role/a",
    ],
)
def test_good_role_arns_pass(arn):
    validate_role_arn(arn)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::12345678901:role/Short",  # 11 digits
        "arn:aws:iam::1234567890123:role/Long",  # 13 digits
        "arn:aws:iam::123456789012:user/NotARole",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role/" + "x" * 65,
        "arn:aws:iam::123456789012:role/has space",
        "TavusRecordings",
        "",
    ],
)
def test_bad_role_arns_are_refused(arn):
    with pytest.raises(ValidationError, match="isn't an IAM role ARN"):
        validate_role_arn(arn)


def test_regions_come_from_the_list():
    validate_aws_region("eu-west-1")
    with pytest.raises(ValidationError):
        validate_aws_region("eu-moon-1")


def test_languages_are_tavus_names():
    validate_language("spanish")
    validate_language("multilingual")
    for bad in ("es", "Klingon", ""):
        with pytest.raises(ValidationError):
            validate_language(bad)


def test_masking_hides_all_but_the_last_four_account_digits():
    arn = "arn:aws:iam::123456789012:role/Tavus"
    assert mask_role_arn(arn) == "arn:aws:iam::********9012:role/Tavus"
    assert mask_role_arn("not an arn") == "not an arn"
