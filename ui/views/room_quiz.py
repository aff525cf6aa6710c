"""What the Room quiz page shows: each pair's picture and the room's answers as a chart for the projector."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw

from gen_core.images import make_grid_image
from gen_core.serve.quiz import QuizError, QuizRound
from gen_core.serve.quiz_answers import Tally

RIGHT_COLOUR, FOOLED_COLOUR, WAITING_COLOUR = "#2a9d8f", "#e76f51", "#8d99ae"


def pair_images(pairs: tuple[QuizRound, ...], real_pool: torch.Tensor,
                generated: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(left, right) images of each pair: the real test image on its side, the pair's generated one on the other."""
    shown = []
    for pair in pairs:
        if pair.real_index >= len(real_pool) or pair.generated_index >= len(generated):
            raise QuizError("This round's pairs do not fit its model's test images: start a new round.")
        real, fake = real_pool[pair.real_index].float().cpu(), generated[pair.generated_index].float().cpu()
        shown.append((real, fake) if pair.real_side == "left" else (fake, real))
    return shown


def pair_picture(left: torch.Tensor, right: torch.Tensor, zoom: int, real_side: str | None = None) -> Image.Image:
    """One pair side by side, enlarged with square pixels, a white gap between; once revealed
    (``real_side``), the real one framed in green in that gap, so the room sees it from the back."""
    padding = max(6, zoom * 2)
    picture = make_grid_image([left, right], nrow=2, padding=padding, upscale=zoom)
    if real_side is None:
        return picture
    picture = picture.convert("RGB")
    height, width = int(left.shape[-2]) * zoom, int(left.shape[-1]) * zoom
    x = padding if real_side == "left" else 2 * padding + width
    frame = padding // 2
    ImageDraw.Draw(picture).rectangle([x - frame, padding - frame, x + width + frame - 1, padding + height + frame - 1],
                                      outline=RIGHT_COLOUR, width=frame)
    return picture


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def tally_figure(tally: Tally) -> go.Figure:
    """The room's share of right answers per pair, with the overall share and chance (50 %) marked;
    a bar under chance means the room was fooled by that generated image."""
    labels = [str(number) for number in range(1, len(tally.pairs) + 1)]
    shares = [0.0 if pair.accuracy is None else 100 * pair.accuracy for pair in tally.pairs]
    colours = [WAITING_COLOUR if pair.accuracy is None else RIGHT_COLOUR if pair.accuracy >= 0.5 else FOOLED_COLOUR
               for pair in tally.pairs]
    texts = [f"{pair.correct}/{pair.answered}" if pair.answered else "" for pair in tally.pairs]
    figure = go.Figure(go.Bar(x=labels, y=shares, marker_color=colours, text=texts, textposition="outside",
                              hovertemplate="pair %{x}: %{y:.0f}% right<extra></extra>", cliponaxis=False))
    # the two lines are named in the right margin, clear of the bars and their counts
    figure.add_hline(y=50, line_dash="dot", line_color="grey", annotation_text="chance", annotation_position="right")
    if tally.accuracy is not None:
        figure.add_hline(y=100 * tally.accuracy, line_color=RIGHT_COLOUR, line_width=3,
                         annotation_text=f"room {percent(tally.accuracy)}", annotation_position="right")
    figure.update_layout(xaxis_title="pair", yaxis_title="% who found the real one", yaxis_range=[0, 112],
                         xaxis_type="category", height=420, margin={"l": 10, "r": 120, "t": 30, "b": 10},
                         showlegend=False)
    return figure
