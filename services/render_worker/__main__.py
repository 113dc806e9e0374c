"""Runs one render worker until SIGTERM (see server.py). Render processes are spawned and import
this module under another name: only a direct run serves."""

if __name__ == "__main__":
    import uvloop

    from craftkit import observability
    from services.render_worker.server import serve
    from services.render_worker.settings import Settings

    observability.start("render_worker")
    uvloop.run(serve(Settings.from_env()))
