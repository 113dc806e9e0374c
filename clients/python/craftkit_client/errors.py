"""Every error the client raises, in one tree:

    CraftkitError
    ├── ApiError              the API answered an error envelope: status, code, message, issues
    │   ├── ValidationError   400, 413, 422 (bad body, bad data: `issues` names the fields)
    │   ├── AuthError         401, 403 (unknown or revoked key, a key outside its scope)
    │   ├── NotFound          404
    │   ├── Conflict          409 (template_exists, not_cancellable, render_not_ready, ...)
    │   ├── Gone              410 (render_expired, link_expired)
    │   ├── RateLimited       429 (retry_after: the seconds the server asked to wait)
    │   └── ServerError       5xx (unavailable: a backend is down; retried before it is raised)
    ├── NetworkError          no answer at all (connection refused, reset, timed out), after retries
    ├── UnexpectedAnswer      a success answer that is not the API's (not JSON, a field of the
    │                         wrong type): a proxy's page, or no Craftkit API at that URL
    ├── RenderFailed          render(wait=True) saw the render end `failed` or `cancelled`
    ├── WaitTimeout           (also a TimeoutError) the wait's deadline passed first
    └── WebhookVerificationError  (also a ValueError) a webhook whose signature does not hold

RenderFailed and WaitTimeout carry the render last seen (`.render`), so a caller can report its
id and status, or keep waiting with `renders.wait(err.render.id)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from craftkit_client.models import Render


class CraftkitError(Exception):
    """The base of every error this package raises."""


class ApiError(CraftkitError):
    """An error answer of the API, from its envelope `{"error": {code, message, issues?}}`."""

    def __init__(self, status: int, code: str, message: str, issues: dict | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(status, code, message, issues, request_id)
        self.status, self.code, self.message = status, code, message
        self.issues, self.request_id = issues, request_id

    @property
    def field_errors(self) -> dict[str, list[str]]:
        """`issues.fieldErrors`: the problems per dotted path of the request (empty if none)."""
        return dict((self.issues or {}).get("fieldErrors") or {})

    @property
    def form_errors(self) -> list[str]:
        """`issues.formErrors`: the problems not tied to one field (empty if none)."""
        return list((self.issues or {}).get("formErrors") or [])

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.message}"
        lines = [f"  {problem}" for problem in self.form_errors]
        lines += [f"  {path}: {problem}" for path, problems in self.field_errors.items()
                  for problem in problems]
        if self.request_id:
            text += f" (request id {self.request_id})"
        return "\n".join([text, *lines])


class ValidationError(ApiError):
    """400, 413 or 422: the request was refused as sent; `issues` says what to fix."""


class AuthError(ApiError):
    """401 (missing, unknown or revoked key) or 403 (the key's scopes do not cover the call)."""


class NotFound(ApiError):
    """404: nothing of that id or slug in the key's project."""


class Conflict(ApiError):
    """409: the resource's state refuses the call (see `code`)."""


class Gone(ApiError):
    """410: the render's PDF or the share link expired."""


class RateLimited(ApiError):
    """429, raised once the retries allowed are spent; `retry_after` is the server's wait."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx, raised once the retries allowed are spent (or at once for a call that cannot be
    retried safely)."""


class NetworkError(CraftkitError):
    """No HTTP answer (connection refused or reset, a timeout), once the retries are spent."""


class UnexpectedAnswer(CraftkitError):
    """A 2xx answer the client cannot read as the API's (not JSON, a missing list, a field of
    another type): something else answers at the base URL (a login page, a proxy, another
    service), or a server too different from this client. Never a half-built model."""


class RenderFailed(CraftkitError):
    """The render ended `failed` (its `error_message` says why) or `cancelled`."""

    def __init__(self, render: Render) -> None:
        super().__init__(render)
        self.render = render

    def __str__(self) -> str:
        why = f": {self.render.error_message}" if self.render.error_message else ""
        return f"render {self.render.id} {self.render.status}{why}"


class WaitTimeout(CraftkitError, TimeoutError):
    """The render was not terminal by the deadline; `render` is the last state seen."""

    def __init__(self, render: Render, timeout: float) -> None:
        super().__init__(render, timeout)
        self.render, self.timeout = render, timeout

    def __str__(self) -> str:
        return (f"render {self.render.id} still {self.render.status} after {self.timeout:g} s "
                f"(it goes on: wait again or poll {self.render.poll_url})")


class WebhookVerificationError(CraftkitError, ValueError):
    """A webhook request that must not be trusted: missing, stale or wrong signature."""


BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationError, 413: ValidationError, 422: ValidationError,
    401: AuthError, 403: AuthError, 404: NotFound, 409: Conflict, 410: Gone, 429: RateLimited,
}


def error_class(status: int) -> type[ApiError]:
    """The ApiError subclass raised for an HTTP status."""
    if status >= 500:
        return ServerError
    return BY_STATUS.get(status, ApiError)
