import uvloop

from craftkit import observability
from services.status.server import Settings, serve

observability.start("status")
uvloop.run(serve(Settings.from_env()))
