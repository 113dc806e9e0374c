import functools

import uvicorn

from craftkit import metrics, observability
from services.gateway.protocol import GatewayProtocol
from services.gateway.settings import Settings

settings = Settings.from_env()
# Several worker processes write their samples to files that the /metrics endpoint (served by
# this process, which starts them) sums: the directory must exist before any worker starts.
metrics.use_multiprocess_dir(settings.workers)
observability.start("gateway")
# proxy_headers (uvicorn's default) takes the client address from X-Forwarded-For when the peer is
# in FORWARDED_ALLOW_IPS (default loopback), so the auth-failure limit sees clients, not the proxy.
uvicorn.run("services.gateway.app:create_app", factory=True, host=settings.host,
            port=settings.port, workers=settings.workers, loop="uvloop",
            http=functools.partial(GatewayProtocol, header_timeout=settings.header_timeout_seconds,
                                   body_timeout=settings.body_timeout_seconds),
            # log_config=None: uvicorn's lines go through craftkit.logs like every other one.
            access_log=False, log_level="info", log_config=None,
            timeout_graceful_shutdown=settings.drain_seconds)
