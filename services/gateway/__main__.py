import uvicorn

from craftkit.service import setup_logging
from services.gateway.settings import Settings

setup_logging("gateway")
settings = Settings.from_env()
uvicorn.run("services.gateway.app:create_app", factory=True, host=settings.host,
            port=settings.port, workers=settings.workers, loop="uvloop", http="httptools",
            access_log=False, log_level="info", timeout_graceful_shutdown=10)
