import uvloop

from craftkit import observability
from services.enqueue.server import Settings, serve

observability.start("enqueue")
uvloop.run(serve(Settings.from_env()))
