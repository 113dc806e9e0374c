from craftkit.v1 import render_pb2 as _render_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnqueueRenderRequest(_message.Message):
    __slots__ = ("project_id", "template_slug", "data_json", "version_number", "filename")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_SLUG_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    VERSION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    template_slug: str
    data_json: str
    version_number: int
    filename: str
    def __init__(self, project_id: _Optional[str] = ..., template_slug: _Optional[str] = ..., data_json: _Optional[str] = ..., version_number: _Optional[int] = ..., filename: _Optional[str] = ...) -> None: ...

class EnqueueRenderResponse(_message.Message):
    __slots__ = ("render", "deduplicated")
    RENDER_FIELD_NUMBER: _ClassVar[int]
    DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    render: _render_pb2.Render
    deduplicated: bool
    def __init__(self, render: _Optional[_Union[_render_pb2.Render, _Mapping]] = ..., deduplicated: _Optional[bool] = ...) -> None: ...
