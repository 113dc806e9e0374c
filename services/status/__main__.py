import uvloop

from craftkit.service import setup_logging
from services.status.server import Settings, serve

setup_logging("status")
uvloop.run(serve(Settings.from_env()))
