"""Craftkit's Python client: the REST v1 API, sync (`Client`) and async (`AsyncClient`), and
`verify_webhook` for receivers.

    from craftkit_client import Client
    with Client() as c:              # CRAFTKIT_API_URL / CRAFTKIT_API_KEY, or ./.craftkit/dev.env
        render = c.render("invoice", {"customer": {"name": "Acme Corp"}, ...})
        c.renders.download(render.id, "invoice.pdf")
"""

from craftkit_client._async import AsyncClient
from craftkit_client._client import Client
from craftkit_client._core import VERSION as __version__
from craftkit_client._core import RetryPolicy
from craftkit_client.errors import (ApiError, AuthError, Conflict, CraftkitError, Gone,
                                    NetworkError, NotFound, RateLimited, RenderFailed,
                                    ServerError, UnexpectedAnswer, ValidationError,
                                    WaitTimeout, WebhookVerificationError)
from craftkit_client.models import (ApiKey, Asset, Delivery, DeliveryAttempt, Page, Render,
                                    ShareLink, Template, Version, VersionSchema, Webhook)
from craftkit_client.webhooks import verify_webhook

__all__ = [
    "ApiError", "ApiKey", "Asset", "AsyncClient", "AuthError", "Client", "Conflict",
    "CraftkitError", "Delivery", "DeliveryAttempt", "Gone", "NetworkError", "NotFound", "Page",
    "RateLimited", "Render", "RenderFailed", "RetryPolicy", "ServerError", "ShareLink",
    "Template", "UnexpectedAnswer", "ValidationError", "Version", "VersionSchema", "WaitTimeout",
    "Webhook", "WebhookVerificationError", "__version__", "verify_webhook",
]
