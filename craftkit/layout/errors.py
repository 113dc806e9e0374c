"""The one exception a render raises for what its data or template makes impossible."""


class RenderError(Exception):
    """The render cannot be produced from this data; the message is shown to the user."""
