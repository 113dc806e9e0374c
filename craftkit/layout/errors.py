"""The one exception a render raises for what its data or template makes impossible."""


class RenderError(Exception):
    """The render cannot be produced from this data; the message is shown to the user. `limit`
    names the deployment limit that stopped it ("pages", "rows", "time"), None for anything
    else, so the render worker can count renders stopped by each limit."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit
