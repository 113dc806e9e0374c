from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InboundHook(_message.Message):
    __slots__ = ("id", "project_id", "template_slug", "version_number", "token", "created_at_ms", "revoked_at_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_SLUG_FIELD_NUMBER: _ClassVar[int]
    VERSION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    template_slug: str
    version_number: int
    token: str
    created_at_ms: int
    revoked_at_ms: int
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., template_slug: _Optional[str] = ..., version_number: _Optional[int] = ..., token: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., revoked_at_ms: _Optional[int] = ...) -> None: ...

class CreateInboundHookRequest(_message.Message):
    __slots__ = ("project_id", "template_slug", "version_number")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_SLUG_FIELD_NUMBER: _ClassVar[int]
    VERSION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    template_slug: str
    version_number: int
    def __init__(self, project_id: _Optional[str] = ..., template_slug: _Optional[str] = ..., version_number: _Optional[int] = ...) -> None: ...

class ListInboundHooksRequest(_message.Message):
    __slots__ = ("project_id", "template_slug")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_SLUG_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    template_slug: str
    def __init__(self, project_id: _Optional[str] = ..., template_slug: _Optional[str] = ...) -> None: ...

class ListInboundHooksResponse(_message.Message):
    __slots__ = ("hooks",)
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    hooks: _containers.RepeatedCompositeFieldContainer[InboundHook]
    def __init__(self, hooks: _Optional[_Iterable[_Union[InboundHook, _Mapping]]] = ...) -> None: ...

class RevokeInboundHookRequest(_message.Message):
    __slots__ = ("project_id", "template_slug", "hook_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_SLUG_FIELD_NUMBER: _ClassVar[int]
    HOOK_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    template_slug: str
    hook_id: str
    def __init__(self, project_id: _Optional[str] = ..., template_slug: _Optional[str] = ..., hook_id: _Optional[str] = ...) -> None: ...

class ResolveInboundHookRequest(_message.Message):
    __slots__ = ("hook_id", "token")
    HOOK_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    hook_id: str
    token: str
    def __init__(self, hook_id: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...
