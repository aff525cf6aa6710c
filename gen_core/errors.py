"""Typed errors raised by the engine.

Every error a user can cause (a bad file, a wrong size, an impossible setting) is one of these,
so the app and the command line can show its message and carry on instead of crashing.
"""


class GenCoreError(Exception):
    """Base class: the message is written for the person who caused it."""


class DatasetError(GenCoreError, ValueError):
    """A dataset is unknown, missing, unreadable or the wrong shape."""


class ModelConfigError(GenCoreError, ValueError):
    """A model setting is out of range or does not fit the data."""


class CheckpointError(GenCoreError):
    """A saved run is missing, corrupt or does not match the model it claims to be."""


class TrainingError(GenCoreError):
    """A run could not continue (for example the loss became NaN or infinite)."""


class ImageInputError(GenCoreError, ValueError):
    """An uploaded image is not an image, is corrupt, or is too large to decode safely."""


class EmptyDrawingError(ImageInputError):
    """A drawing has no ink: nothing has been drawn yet."""


class SamplerError(GenCoreError, ValueError):
    """A latent sampler cannot be fitted with the settings given (e.g. K larger than the data)."""


class LatentError(GenCoreError, ValueError):
    """A request about latent codes cannot be met (too few codes for a PCA, a path of one step...)."""


class ArchiveError(GenCoreError, ValueError):
    """A zip is not a zip, is damaged, encrypted, too large, or names a file outside itself."""


class OutputPathError(GenCoreError, ValueError):
    """A file or folder to write cannot be written there (checked before any work starts)."""


class RunBusyError(CheckpointError):
    """Another process (or another thread here) is writing this run folder."""
