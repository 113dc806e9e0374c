from craftkit.v1 import render_pb2 as _render_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetRenderRequest(_message.Message):
    __slots__ = ("project_id", "render_id", "include_transitions")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    render_id: str
    include_transitions: bool
    def __init__(self, project_id: _Optional[str] = ..., render_id: _Optional[str] = ..., include_transitions: _Optional[bool] = ...) -> None: ...

class WaitRenderRequest(_message.Message):
    __slots__ = ("project_id", "render_id", "timeout_ms")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    render_id: str
    timeout_ms: int
    def __init__(self, project_id: _Optional[str] = ..., render_id: _Optional[str] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class StartRenderRequest(_message.Message):
    __slots__ = ("render_id", "worker_id", "project_id")
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    render_id: str
    worker_id: str
    project_id: str
    def __init__(self, render_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., project_id: _Optional[str] = ...) -> None: ...

class StartRenderResponse(_message.Message):
    __slots__ = ("render", "attempt", "data_json", "layout_json", "assets", "lease_ms")
    RENDER_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_JSON_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    render: _render_pb2.Render
    attempt: int
    data_json: str
    layout_json: str
    assets: _containers.RepeatedCompositeFieldContainer[AssetRef]
    lease_ms: int
    def __init__(self, render: _Optional[_Union[_render_pb2.Render, _Mapping]] = ..., attempt: _Optional[int] = ..., data_json: _Optional[str] = ..., layout_json: _Optional[str] = ..., assets: _Optional[_Iterable[_Union[AssetRef, _Mapping]]] = ..., lease_ms: _Optional[int] = ...) -> None: ...

class RenewLeaseRequest(_message.Message):
    __slots__ = ("render_id", "attempt", "project_id")
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    render_id: str
    attempt: int
    project_id: str
    def __init__(self, render_id: _Optional[str] = ..., attempt: _Optional[int] = ..., project_id: _Optional[str] = ...) -> None: ...

class RenewLeaseResponse(_message.Message):
    __slots__ = ("lease_ms",)
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    lease_ms: int
    def __init__(self, lease_ms: _Optional[int] = ...) -> None: ...

class ReleaseRenderRequest(_message.Message):
    __slots__ = ("render_id", "attempt", "reason", "project_id")
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    render_id: str
    attempt: int
    reason: str
    project_id: str
    def __init__(self, render_id: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ..., project_id: _Optional[str] = ...) -> None: ...

class AssetRef(_message.Message):
    __slots__ = ("name", "sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    sha256: str
    def __init__(self, name: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class FinishRenderRequest(_message.Message):
    __slots__ = ("render_id", "attempt", "succeeded", "object_key", "download_url", "error_message", "project_id")
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    render_id: str
    attempt: int
    succeeded: bool
    object_key: str
    download_url: str
    error_message: str
    project_id: str
    def __init__(self, render_id: _Optional[str] = ..., attempt: _Optional[int] = ..., succeeded: _Optional[bool] = ..., object_key: _Optional[str] = ..., download_url: _Optional[str] = ..., error_message: _Optional[str] = ..., project_id: _Optional[str] = ...) -> None: ...

class CancelRenderRequest(_message.Message):
    __slots__ = ("project_id", "render_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RENDER_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    render_id: str
    def __init__(self, project_id: _Optional[str] = ..., render_id: _Optional[str] = ...) -> None: ...

class ListRendersRequest(_message.Message):
    __slots__ = ("project_id", "status", "template_slug", "created_after_ms", "created_before_ms", "limit", "cursor")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_SLUG_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_MS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    status: _render_pb2.RenderStatus
    template_slug: str
    created_after_ms: int
    created_before_ms: int
    limit: int
    cursor: str
    def __init__(self, project_id: _Optional[str] = ..., status: _Optional[_Union[_render_pb2.RenderStatus, str]] = ..., template_slug: _Optional[str] = ..., created_after_ms: _Optional[int] = ..., created_before_ms: _Optional[int] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListRendersResponse(_message.Message):
    __slots__ = ("renders", "next_cursor")
    RENDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    renders: _containers.RepeatedCompositeFieldContainer[_render_pb2.Render]
    next_cursor: str
    def __init__(self, renders: _Optional[_Iterable[_Union[_render_pb2.Render, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...
