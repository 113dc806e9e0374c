from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BeginRequest(_message.Message):
    __slots__ = ("project_id", "key", "fingerprint", "lease_ms")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    key: str
    fingerprint: bytes
    lease_ms: int
    def __init__(self, project_id: _Optional[str] = ..., key: _Optional[str] = ..., fingerprint: _Optional[bytes] = ..., lease_ms: _Optional[int] = ...) -> None: ...

class StoredResponse(_message.Message):
    __slots__ = ("status", "body", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    status: int
    body: bytes
    headers: _containers.ScalarMap[str, str]
    def __init__(self, status: _Optional[int] = ..., body: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class BeginResponse(_message.Message):
    __slots__ = ("outcome", "lease_id", "response")
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OUTCOME_UNSPECIFIED: _ClassVar[BeginResponse.Outcome]
        NEW: _ClassVar[BeginResponse.Outcome]
        REPLAY: _ClassVar[BeginResponse.Outcome]
        IN_USE: _ClassVar[BeginResponse.Outcome]
        REUSED: _ClassVar[BeginResponse.Outcome]
    OUTCOME_UNSPECIFIED: BeginResponse.Outcome
    NEW: BeginResponse.Outcome
    REPLAY: BeginResponse.Outcome
    IN_USE: BeginResponse.Outcome
    REUSED: BeginResponse.Outcome
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    outcome: BeginResponse.Outcome
    lease_id: str
    response: StoredResponse
    def __init__(self, outcome: _Optional[_Union[BeginResponse.Outcome, str]] = ..., lease_id: _Optional[str] = ..., response: _Optional[_Union[StoredResponse, _Mapping]] = ...) -> None: ...

class FinishRequest(_message.Message):
    __slots__ = ("project_id", "key", "lease_id", "response")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    key: str
    lease_id: str
    response: StoredResponse
    def __init__(self, project_id: _Optional[str] = ..., key: _Optional[str] = ..., lease_id: _Optional[str] = ..., response: _Optional[_Union[StoredResponse, _Mapping]] = ...) -> None: ...

class FinishResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AbandonRequest(_message.Message):
    __slots__ = ("project_id", "key", "lease_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    key: str
    lease_id: str
    def __init__(self, project_id: _Optional[str] = ..., key: _Optional[str] = ..., lease_id: _Optional[str] = ...) -> None: ...

class AbandonResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
