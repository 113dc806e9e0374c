import uvloop

from craftkit.service import setup_logging
from services.enqueue.server import Settings, serve

setup_logging("enqueue")
uvloop.run(serve(Settings.from_env()))
