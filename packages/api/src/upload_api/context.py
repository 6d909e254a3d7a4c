"""The API's context: the shared service context plus what only the API uses."""

from __future__ import annotations

from dataclasses import dataclass

from upload_common.credentials import (
    CredentialIssuer,
    StagingCredentialIssuer,
    make_credential_issuer,
    make_staging_issuer,
)
from upload_common.generated_secrets import resolve_secret
from upload_common.service_context import ServiceContext, service_parts
from upload_common.settings import Settings


@dataclass(kw_only=True)
class ApiContext(ServiceContext):
    credential_issuer: CredentialIssuer | None = None
    staging_issuer: StagingCredentialIssuer | None = None
    api_keys: tuple[bytes, ...] = ()

    @property
    def bucket(self) -> str:
        """What the `upload_area.bucket` column records: the bucket, or the local store's root."""
        return self.store.url.removeprefix("s3://").removeprefix("file://")

    def area_uri(self, area_uuid: str) -> str:
        return f"{self.store.url.rstrip('/')}/{area_uuid}/"


def build_context(settings: Settings) -> ApiContext:
    """Open the database, the store and the credential issuers named by `settings`."""
    parts = service_parts(settings)
    settings = parts["settings"]  # type: ignore[assignment]  # with its secrets fetched
    keys = tuple(key.get_secret_value() for key in settings.api_keys)
    if not keys:
        keys = (resolve_secret(None, settings.var_dir, "api_key"),)
    return ApiContext(
        **parts,  # type: ignore[arg-type]
        credential_issuer=make_credential_issuer(settings),
        staging_issuer=make_staging_issuer(settings),
        api_keys=tuple(key.encode() for key in keys),
    )
