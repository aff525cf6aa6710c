"""The options each dataset's loader takes, described once: the ``datasets`` registry holds them,
and the command line's dataset flags and the Train page's dataset widgets are generated from them."""

from __future__ import annotations

from gen_core.settings import Setting

_COLOURS = {1: "grayscale", 3: "colour"}


def channels(default: int) -> Setting:
    return Setting("Colour", "1 (grayscale) or 3 (RGB)", kind=int, name="channels", default=default, choices=(1, 3),
                   choice_labels=_COLOURS, widget="radio")


FOLDER_OPTIONS = (
    Setting("Images", "a folder or zip of images; sub-folders become classes", kind=str,
            name="path", widget="images", required=True),
    Setting("Image size (pixels, square)", "image size for 'folder' (default 64)", kind=int, name="size",
            default=64, minimum=8, maximum=256, step=8),
    channels(3),
)

TILE_OPTIONS = (
    Setting("Large images", "a folder or zip of at least two large images for 'tiles' (one is held out for "
            "testing; default: the embedded photographs)", kind=str, name="path", flag="--tiles-from", widget="images"),
    Setting("Tile size (pixels)", "tile size for 'tiles' (default 32)", kind=int, name="tile_size", default=32,
            minimum=4, maximum=256, step=4, widget_key="size"),
    Setting("Tiles per epoch", "tiles drawn afresh for each epoch (default 2000)", kind=int, name="tiles_per_epoch",
            default=2000, minimum=100, maximum=200_000, step=500, widget_key="count"),
    channels(1),
)

TORCHVISION_OPTIONS = (
    Setting("Local folder", "local folder of torchvision datasets", kind=str, name="root", in_app=False),
    Setting("Use the first N training images (0: all)", "keep the first N training images (and N/6 test images)",
            kind=int, name="limit", minimum=1, step=1000),
    Setting("Download if missing", "download the files when they are not on this machine", kind=bool,
            name="download", default=False, needs_network=True),
)
