import uvloop

from craftkit import observability
from services.webhooks.server import Settings, serve

observability.start("webhooks")
uvloop.run(serve(Settings.from_env()))
