"""Every model module, imported so that ``Base.metadata`` knows the whole schema.

A new domain adds its module here (one line) and an Alembic revision.
"""

from .annotations import Annotation  # noqa: F401
from .compute import (  # noqa: F401
    ComputeResource,
    Pipeline,
    PipelineRun,
    Plugin,
    PluginComputeResource,
    PluginInstance,
)
from .dicom import DicomInstance, DicomPatient, DicomSeries, DicomStudy  # noqa: F401
from .feeds import Feed, FeedComment, FeedTag, Tag
from .library import ApiToken, File, Folder, Group, GroupMember, Share, ShareLink, User

__all__ = [
    "ApiToken",
    "Feed",
    "FeedComment",
    "FeedTag",
    "File",
    "Folder",
    "Group",
    "GroupMember",
    "Share",
    "ShareLink",
    "Tag",
    "User",
]
