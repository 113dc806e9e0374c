from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RenderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RENDER_STATUS_UNSPECIFIED: _ClassVar[RenderStatus]
    RENDER_STATUS_QUEUED: _ClassVar[RenderStatus]
    RENDER_STATUS_RENDERING: _ClassVar[RenderStatus]
    RENDER_STATUS_SUCCEEDED: _ClassVar[RenderStatus]
    RENDER_STATUS_FAILED: _ClassVar[RenderStatus]
    RENDER_STATUS_CANCELLED: _ClassVar[RenderStatus]
RENDER_STATUS_UNSPECIFIED: RenderStatus
RENDER_STATUS_QUEUED: RenderStatus
RENDER_STATUS_RENDERING: RenderStatus
RENDER_STATUS_SUCCEEDED: RenderStatus
RENDER_STATUS_FAILED: RenderStatus
RENDER_STATUS_CANCELLED: RenderStatus

class Transition(_message.Message):
    __slots__ = ("status", "attempt", "at_ms")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    status: RenderStatus
    attempt: int
    at_ms: int
    def __init__(self, status: _Optional[_Union[RenderStatus, str]] = ..., attempt: _Optional[int] = ..., at_ms: _Optional[int] = ...) -> None: ...

class Render(_message.Message):
    __slots__ = ("id", "project_id", "template_id", "version_number", "status", "filename", "object_key", "download_url", "error_message", "created_at_ms", "completed_at_ms", "duration_ms", "transitions", "expired_at_ms", "template_slug", "download_url_expires_at_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_SLUG_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_URL_EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    template_id: str
    version_number: int
    status: RenderStatus
    filename: str
    object_key: str
    download_url: str
    error_message: str
    created_at_ms: int
    completed_at_ms: int
    duration_ms: int
    transitions: _containers.RepeatedCompositeFieldContainer[Transition]
    expired_at_ms: int
    template_slug: str
    download_url_expires_at_ms: int
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., template_id: _Optional[str] = ..., version_number: _Optional[int] = ..., status: _Optional[_Union[RenderStatus, str]] = ..., filename: _Optional[str] = ..., object_key: _Optional[str] = ..., download_url: _Optional[str] = ..., error_message: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., completed_at_ms: _Optional[int] = ..., duration_ms: _Optional[int] = ..., transitions: _Optional[_Iterable[_Union[Transition, _Mapping]]] = ..., expired_at_ms: _Optional[int] = ..., template_slug: _Optional[str] = ..., download_url_expires_at_ms: _Optional[int] = ...) -> None: ...
