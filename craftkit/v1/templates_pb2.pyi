from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TemplateVersion(_message.Message):
    __slots__ = ("number", "manifest_json", "layout_json", "published", "created_at_ms", "published_at_ms")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_JSON_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_JSON_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    number: int
    manifest_json: str
    layout_json: str
    published: bool
    created_at_ms: int
    published_at_ms: int
    def __init__(self, number: _Optional[int] = ..., manifest_json: _Optional[str] = ..., layout_json: _Optional[str] = ..., published: _Optional[bool] = ..., created_at_ms: _Optional[int] = ..., published_at_ms: _Optional[int] = ...) -> None: ...

class Template(_message.Message):
    __slots__ = ("id", "project_id", "slug", "name", "default_filename", "published_version", "created_at_ms", "versions")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FILENAME_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    slug: str
    name: str
    default_filename: str
    published_version: int
    created_at_ms: int
    versions: _containers.RepeatedCompositeFieldContainer[TemplateVersion]
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., slug: _Optional[str] = ..., name: _Optional[str] = ..., default_filename: _Optional[str] = ..., published_version: _Optional[int] = ..., created_at_ms: _Optional[int] = ..., versions: _Optional[_Iterable[_Union[TemplateVersion, _Mapping]]] = ...) -> None: ...

class CreateTemplateRequest(_message.Message):
    __slots__ = ("project_id", "slug", "name", "default_filename")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FILENAME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    slug: str
    name: str
    default_filename: str
    def __init__(self, project_id: _Optional[str] = ..., slug: _Optional[str] = ..., name: _Optional[str] = ..., default_filename: _Optional[str] = ...) -> None: ...

class GetTemplateRequest(_message.Message):
    __slots__ = ("project_id", "slug")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    slug: str
    def __init__(self, project_id: _Optional[str] = ..., slug: _Optional[str] = ...) -> None: ...

class ListTemplatesRequest(_message.Message):
    __slots__ = ("project_id", "limit", "cursor")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    limit: int
    cursor: str
    def __init__(self, project_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListTemplatesResponse(_message.Message):
    __slots__ = ("templates", "next_cursor")
    TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    templates: _containers.RepeatedCompositeFieldContainer[Template]
    next_cursor: str
    def __init__(self, templates: _Optional[_Iterable[_Union[Template, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class AddVersionRequest(_message.Message):
    __slots__ = ("project_id", "slug", "manifest_json", "layout_json")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_JSON_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_JSON_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    slug: str
    manifest_json: str
    layout_json: str
    def __init__(self, project_id: _Optional[str] = ..., slug: _Optional[str] = ..., manifest_json: _Optional[str] = ..., layout_json: _Optional[str] = ...) -> None: ...

class PublishVersionRequest(_message.Message):
    __slots__ = ("project_id", "slug", "number")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    slug: str
    number: int
    def __init__(self, project_id: _Optional[str] = ..., slug: _Optional[str] = ..., number: _Optional[int] = ...) -> None: ...

class GetVersionSchemaRequest(_message.Message):
    __slots__ = ("project_id", "slug", "number", "api_base_url")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    API_BASE_URL_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    slug: str
    number: int
    api_base_url: str
    def __init__(self, project_id: _Optional[str] = ..., slug: _Optional[str] = ..., number: _Optional[int] = ..., api_base_url: _Optional[str] = ...) -> None: ...

class VersionSchema(_message.Message):
    __slots__ = ("number", "schema_json", "example_json", "curl")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_JSON_FIELD_NUMBER: _ClassVar[int]
    CURL_FIELD_NUMBER: _ClassVar[int]
    number: int
    schema_json: str
    example_json: str
    curl: str
    def __init__(self, number: _Optional[int] = ..., schema_json: _Optional[str] = ..., example_json: _Optional[str] = ..., curl: _Optional[str] = ...) -> None: ...

class Asset(_message.Message):
    __slots__ = ("name", "content_type", "sha256", "size", "width", "height", "created_at_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    content_type: str
    sha256: str
    size: int
    width: int
    height: int
    created_at_ms: int
    def __init__(self, name: _Optional[str] = ..., content_type: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., created_at_ms: _Optional[int] = ...) -> None: ...

class PutAssetRequest(_message.Message):
    __slots__ = ("project_id", "slug", "name", "data")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    slug: str
    name: str
    data: bytes
    def __init__(self, project_id: _Optional[str] = ..., slug: _Optional[str] = ..., name: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ListAssetsRequest(_message.Message):
    __slots__ = ("project_id", "slug")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    slug: str
    def __init__(self, project_id: _Optional[str] = ..., slug: _Optional[str] = ...) -> None: ...

class ListAssetsResponse(_message.Message):
    __slots__ = ("assets",)
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    def __init__(self, assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ...) -> None: ...

class GetAssetDataRequest(_message.Message):
    __slots__ = ("template_id", "name", "project_id", "slug")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    name: str
    project_id: str
    slug: str
    def __init__(self, template_id: _Optional[str] = ..., name: _Optional[str] = ..., project_id: _Optional[str] = ..., slug: _Optional[str] = ...) -> None: ...

class AssetData(_message.Message):
    __slots__ = ("name", "sha256", "data", "content_type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    sha256: str
    data: bytes
    content_type: str
    def __init__(self, name: _Optional[str] = ..., sha256: _Optional[str] = ..., data: _Optional[bytes] = ..., content_type: _Optional[str] = ...) -> None: ...

class PrepareVersionPreviewRequest(_message.Message):
    __slots__ = ("project_id", "slug", "number", "data_json")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    slug: str
    number: int
    data_json: str
    def __init__(self, project_id: _Optional[str] = ..., slug: _Optional[str] = ..., number: _Optional[int] = ..., data_json: _Optional[str] = ...) -> None: ...

class VersionPreview(_message.Message):
    __slots__ = ("template_id", "layout_json", "data_json", "asset_names")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_JSON_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    ASSET_NAMES_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    layout_json: str
    data_json: str
    asset_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, template_id: _Optional[str] = ..., layout_json: _Optional[str] = ..., data_json: _Optional[str] = ..., asset_names: _Optional[_Iterable[str]] = ...) -> None: ...
