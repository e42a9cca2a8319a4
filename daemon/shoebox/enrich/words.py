"""The words a family searches for (beach, dog, snow, food), each defined by the ImageNet
classes that show it, and how confident the classifier is about each word on one photo.

A word's confidence is the sum of its classes' probabilities (a photo that is 40% pug and 30%
French bulldog is 70% "dog"); words at MIN_CONFIDENCE or more become labels. A class may serve
several words (an alp is both "mountain" and "snow"). The class numbers are the lines of
`data/imagenet_classes.txt`, counted from 0. ImageNet has no "cake", "tree" or "party" class:
those words lean on what such photos are classified as (a birthday cake mostly comes out as
"candle" or "trifle"), so they are rougher than "dog" or "cat".

Words are single lower-case words, so `label:WORD` in a search needs no quoting.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

MIN_CONFIDENCE = 0.2  # lower, and words of many classes (dog, bird) creep in from noise


def _classes(*parts: int | range) -> tuple[int, ...]:
    out: list[int] = []
    for part in parts:
        out.extend(part if isinstance(part, range) else (part,))
    return tuple(out)


def _through(first: int, last: int) -> range:
    return range(first, last + 1)


WORDS: Mapping[str, tuple[int, ...]] = {
    # animals
    "dog": _classes(_through(151, 268)),  # Chihuahua … Mexican hairless: every breed
    "cat": _classes(_through(281, 285)),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "bird": _classes(_through(7, 24), _through(80, 100), _through(127, 146)),
    "horse": _classes(339, 603),  # sorrel, horse cart
    "cow": _classes(345, 346),  # ox, water buffalo
    "sheep": _classes(348),  # ram
    "pig": _classes(341),  # hog
    "rabbit": _classes(_through(330, 332)),  # wood rabbit, hare, Angora
    "butterfly": _classes(_through(321, 326)),
    "fish": _classes(_through(0, 6), _through(389, 397)),
    "elephant": _classes(101, 385, 386),
    # places and weather
    "beach": _classes(978, 977, 445, 638, 639, 842),  # seashore, sandbar, swimwear
    "sea": _classes(978, 977, 976, 973),  # seashore, sandbar, promontory, coral reef
    "lake": _classes(975, 449),  # lakeside, boathouse
    "mountain": _classes(970, 972, 979, 980),  # alp, cliff, valley, volcano
    "snow": _classes(970, 795, 802, 803, 537),  # alp, ski, snowmobile, snowplow, dogsled
    "camping": _classes(672),  # mountain tent
    "playground": _classes(843, 476),  # swing, carousel
    "bridge": _classes(821, 839, 888),  # steel arch, suspension bridge, viaduct
    "castle": _classes(483, 698),  # castle, palace
    "church": _classes(497, 663),  # church, monastery
    "fountain": _classes(562),
    # food and drink
    "food": _classes(
        923,  # plate
        _through(924, 935),  # guacamole … mashed potato
        _through(936, 945),  # head cabbage … bell pepper
        _through(959, 965),  # carbonara … burrito
        762,  # restaurant
    ),
    "fruit": _classes(_through(948, 957)),  # Granny Smith … pomegranate
    "cake": _classes(470, 927),  # candle, trifle (see the module docstring)
    "icecream": _classes(928, 929),  # ice cream, ice lolly
    "pizza": _classes(963),
    "coffee": _classes(967, 504, 550),  # espresso, coffee mug, espresso maker
    "wine": _classes(966, 907),  # red wine, wine bottle
    "mushroom": _classes(947, _through(991, 997)),
    # things
    "car": _classes(436, 468, 511, 581, 609, 627, 656, 661, 717, 751, 817, 479),
    "bicycle": _classes(444, 671, 870),  # tandem, mountain bike, tricycle
    "motorbike": _classes(665, 670),  # moped, motor scooter
    "bus": _classes(654, 779, 874),  # minibus, school bus, trolleybus
    "train": _classes(466, 547, 565, 705, 820, 829),
    "plane": _classes(404, 895, 908),  # airliner, warplane, wing
    "boat": _classes(472, 484, 536, 554, 576, 625, 628, 693, 724, 780, 814, 871, 914, 510),
    "flower": _classes(984, 985, 986, 738),  # rapeseed, daisy, lady's slipper, pot
    "baby": _classes(431, 516, 520),  # bassinet, cradle, crib
    "toy": _classes(850, 865),  # teddy, toyshop
    "music": _classes(402, 546, 579, 881),  # guitars, pianos
    "book": _classes(453, 454, 917, 921),
    "computer": _classes(527, 590, 620, 681, 782),
    "christmas": _classes(496),  # Christmas stocking
    "halloween": _classes(607),  # jack-o'-lantern
    "party": _classes(417),  # balloon
    "wedding": _classes(982, 578),  # groom, gown
}


def class_names() -> list[str]:
    """The 1000 ImageNet class names, in the classifier's output order."""
    text = resources.files("shoebox.enrich").joinpath("data/imagenet_classes.txt").read_text()
    return text.splitlines()


def confidences(probabilities: Any) -> dict[str, float]:
    """Each word at or above MIN_CONFIDENCE, with its confidence (at most 1)."""
    found = {}
    for word, classes in WORDS.items():
        total = float(sum(probabilities[i] for i in classes))
        if total >= MIN_CONFIDENCE:
            found[word] = round(min(total, 1.0), 4)
    return found
