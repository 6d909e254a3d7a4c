"""Credentials that read only this validation's objects, asked of the API right before staging.

`POST <UPLOAD_STAGING_CREDENTIALS_URL>` (authorised by the job's callback token, like its reports)
answers STS credentials whose session policy allows `s3:GetObject` on the validation's objects alone,
for 15 minutes, and only while the validation is SCHEDULED or VALIDATING. botocore asks again (the same
call) a few minutes before they expire, so staging may take as long as it needs. Only the harness holds
them: the validator gets no AWS variable and runs as another user where the harness can switch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

from upload_common.errors import CallbackError, CredentialsError
from upload_common.job_reports import Reporter

METHOD = "upload-staging-credentials"


class _StagingCredentials(RefreshableCredentials):
    # botocore's defaults (refresh from 15 minutes before expiry, block from 10) would refresh 15-minute
    # credentials on every request.
    _advisory_refresh_timeout = 5 * 60
    _mandatory_refresh_timeout = 2 * 60


def staging_session(url: str, caller: Reporter) -> Any:
    """A botocore session whose only credentials are the staging credentials from `url` (asked with
    the job's token through `caller`), refreshed before they expire. Never falls back to the harness's
    own credentials: a refusal fails the staging (`CredentialsError`)."""
    session = botocore.session.Session()
    session.register_component("credential_provider", CredentialResolver([_Provider(_fetcher(url, caller))]))
    return session


def _fetcher(url: str, caller: Reporter) -> Callable[[], dict[str, str]]:
    def fetch() -> dict[str, str]:
        try:
            answer = caller.post(url, {}, what="get staging credentials")
        except CallbackError as exc:
            raise CredentialsError(f"no credentials to stage the files with: {exc}") from None
        try:
            return {
                "access_key": answer["AccessKeyId"],
                "secret_key": answer["SecretAccessKey"],
                "token": answer["SessionToken"],
                "expiry_time": answer["Expiration"],
            }
        except (KeyError, TypeError):
            raise CredentialsError(f"{url} answered without credentials") from None

    return fetch


class _Provider(CredentialProvider):
    METHOD = METHOD

    def __init__(self, fetch: Callable[[], dict[str, str]]) -> None:
        super().__init__()
        self._fetch = fetch

    def load(self) -> RefreshableCredentials:
        return _StagingCredentials.create_from_metadata(
            self._fetch(), refresh_using=self._fetch, method=METHOD
        )
