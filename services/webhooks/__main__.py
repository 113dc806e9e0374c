import uvloop

from craftkit.service import setup_logging
from services.webhooks.server import Settings, serve

setup_logging("webhooks")
uvloop.run(serve(Settings.from_env()))
