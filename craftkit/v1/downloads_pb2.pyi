from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetDownloadRequest(_message.Message):
    __slots__ = ("project_id", "render_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    render_id: str
    def __init__(self, project_id: _Optional[str] = ..., render_id: _Optional[str] = ...) -> None: ...

class Download(_message.Message):
    __slots__ = ("url", "filename", "render_id", "project_id")
    URL_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    url: str
    filename: str
    render_id: str
    project_id: str
    def __init__(self, url: _Optional[str] = ..., filename: _Optional[str] = ..., render_id: _Optional[str] = ..., project_id: _Optional[str] = ...) -> None: ...

class ShareLink(_message.Message):
    __slots__ = ("id", "render_id", "token", "expires_at_ms", "max_downloads", "downloads", "created_at_ms", "revoked_at_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_DOWNLOADS_FIELD_NUMBER: _ClassVar[int]
    DOWNLOADS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    render_id: str
    token: str
    expires_at_ms: int
    max_downloads: int
    downloads: int
    created_at_ms: int
    revoked_at_ms: int
    def __init__(self, id: _Optional[str] = ..., render_id: _Optional[str] = ..., token: _Optional[str] = ..., expires_at_ms: _Optional[int] = ..., max_downloads: _Optional[int] = ..., downloads: _Optional[int] = ..., created_at_ms: _Optional[int] = ..., revoked_at_ms: _Optional[int] = ...) -> None: ...

class CreateShareLinkRequest(_message.Message):
    __slots__ = ("project_id", "render_id", "expires_in_seconds", "max_downloads")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_DOWNLOADS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    render_id: str
    expires_in_seconds: int
    max_downloads: int
    def __init__(self, project_id: _Optional[str] = ..., render_id: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ..., max_downloads: _Optional[int] = ...) -> None: ...

class ListShareLinksRequest(_message.Message):
    __slots__ = ("project_id", "render_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    render_id: str
    def __init__(self, project_id: _Optional[str] = ..., render_id: _Optional[str] = ...) -> None: ...

class ListShareLinksResponse(_message.Message):
    __slots__ = ("links",)
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[ShareLink]
    def __init__(self, links: _Optional[_Iterable[_Union[ShareLink, _Mapping]]] = ...) -> None: ...

class RevokeShareLinkRequest(_message.Message):
    __slots__ = ("project_id", "render_id", "link_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    render_id: str
    link_id: str
    def __init__(self, project_id: _Optional[str] = ..., render_id: _Optional[str] = ..., link_id: _Optional[str] = ...) -> None: ...

class OpenShareLinkRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...
