"""Draw the brand images (custom_components/battery_steward/brand/*.png) with Pillow.

Run once after changing the design; the PNGs are committed. Sizes follow Home Assistant's brands
rules: icon 256x256 (@2x 512x512), logo with the shortest side 128 (@2x 256), transparent background.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND = Path(__file__).resolve().parent.parent / "custom_components" / "battery_steward" / "brand"
TEAL = (0, 121, 107, 255)
GREEN = (67, 160, 71, 255)
TEXT = (33, 33, 33, 255)
SUPERSAMPLE = 4


def _battery(draw: ImageDraw.ImageDraw, left: float, top: float, size: float) -> None:
    """A battery standing upright, two charge bars and a check mark: a battery kept on plan."""
    unit = size / 16
    body = (left + 3 * unit, top + 2.5 * unit, left + 13 * unit, top + 15.5 * unit)
    cap = (left + 6 * unit, top + 0.5 * unit, left + 10 * unit, top + 2.5 * unit)
    draw.rounded_rectangle(cap, radius=unit * 0.6, fill=TEAL)
    draw.rounded_rectangle(body, radius=unit * 1.4, outline=TEAL, width=round(unit * 1.1))
    for row in range(2):
        bar_top = top + (11.4 - row * 3.1) * unit
        draw.rounded_rectangle(
            (left + 5 * unit, bar_top, left + 11 * unit, bar_top + 2.2 * unit), radius=unit * 0.4, fill=GREEN
        )
    draw.line(
        [
            (left + 5.4 * unit, top + 5.6 * unit),
            (left + 7.3 * unit, top + 7.4 * unit),
            (left + 10.6 * unit, top + 4.2 * unit),
        ],
        fill=TEAL,
        width=round(unit * 1.1),
        joint="curve",
    )


def icon(size: int) -> Image.Image:
    """The square icon."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    _battery(ImageDraw.Draw(image), 0, 0, big)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def logo(height: int) -> Image.Image:
    """The icon with the name beside it."""
    big = height * SUPERSAMPLE
    font = ImageFont.load_default(size=big * 0.42)
    text = "Battery Steward"
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    text_left, text_top, text_right, text_bottom = probe.textbbox((0, 0), text, font=font)
    width = big + big // 8 + (text_right - text_left) + big // 16
    image = Image.new("RGBA", (int(width), big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    _battery(draw, 0, 0, big)
    baseline = (big - (text_bottom - text_top)) / 2 - text_top
    draw.text((big + big // 8 - text_left, baseline), text, font=font, fill=TEXT)
    return image.resize((round(width / SUPERSAMPLE), height), Image.Resampling.LANCZOS)


def main() -> None:
    """Write the four PNGs."""
    BRAND.mkdir(exist_ok=True)
    icon(256).save(BRAND / "icon.png", optimize=True)
    icon(512).save(BRAND / "icon@2x.png", optimize=True)
    logo(128).save(BRAND / "logo.png", optimize=True)
    logo(256).save(BRAND / "logo@2x.png", optimize=True)


if __name__ == "__main__":
    main()
