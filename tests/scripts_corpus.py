# ruff: noqa: RUF001  (text in other scripts is what these tests are about)
"""Small documents written for these tests, one per script, and the query each must be found by."""

from __future__ import annotations

import unicodedata
from typing import Any

# id -> (title, body, a query in the same script that shares words with the document)
SCRIPT_DOCS: dict[str, tuple[str, str, str]] = {
    "zh": ("北京烤鸭的传统制作方法",
           "北京烤鸭是中国著名的传统菜肴。鸭子需要先腌制，然后挂在果木炉中烤制。烤好的鸭皮酥脆，配上薄饼和甜面酱一起食用。",
           "烤鸭 甜面酱"),
    "ja": ("京都の桜と寺院の春",
           "京都では毎年四月に桜が満開になります。清水寺や嵐山には多くの観光客が訪れます！夜桜のライトアップも人気です。",
           "京都の桜"),
    "th": ("อาหารไทยรสเผ็ดและต้มยำกุ้ง",
           "ต้มยำกุ้งเป็นอาหารไทยที่มีชื่อเสียง ใช้กุ้งสด ตะไคร้ ใบมะกรูด และพริก น้ำซุปมีรสเปรี้ยวและเผ็ด",
           "ต้มยำกุ้ง"),
    "fr": ("Crème brûlée à la vanille",
           "La crème brûlée est un dessert français. Battez les jaunes d'œufs avec le sucre et la vanille. "
           "Caramélisez le dessus au chalumeau juste avant de servir.",
           "crème brûlée caramélisez"),
    "de": ("Schwarzwälder Kirschtorte backen",
           "Die Schwarzwälder Kirschtorte besteht aus Schokoladenbiskuit, Kirschen und Sahne. "
           "Das Kirschwasser gibt ihr den typischen Geschmack. Über die Torte streut man Schokoraspeln.",
           "Kirschtorte Schokoraspeln"),
    "ru": ("Московский Кремль и Красная площадь",
           "Московский Кремль — древняя крепость в центре Москвы. Рядом находится Красная площадь! "
           "Здесь стоит собор Василия Блаженного.",
           "Кремль площадь"),
    "ar": ("القهوة العربية وتقاليد الضيافة",
           "تقدم القهوة العربية للضيوف في فناجين صغيرة. تحمص حبوب البن وتطحن مع الهيل. هل تعرف طقوس تقديمها؟ "
           "يصب المضيف القهوة باليد اليسرى.",
           "القهوة الهيل"),
    "hi": ("भारतीय मसाला चाय बनाने की विधि",
           "मसाला चाय भारत में बहुत लोकप्रिय है। इसमें अदरक, इलायची और लौंग डाली जाती है। दूध और चीनी के साथ उबालें।",
           "मसाला चाय इलायची"),
}

# Stored decomposed (NFD); the queries below are typed composed (NFC), and the other way round.
NFD_TITLE = unicodedata.normalize("NFD", "Pâté en croûte du Périgord")
NFD_BODY = unicodedata.normalize("NFD", "Le pâté en croûte est une terrine cuite dans une pâte brisée. "
                                        "Les maîtres charcutiers le préparent pour les fêtes.")
NFC_TITLE = "Crêpes Suzette flambées"
NFC_BODY = "Les crêpes Suzette sont nappées d'un beurre à l'orange puis flambées au Grand Marnier."


def script_documents() -> list[dict[str, Any]]:
    docs = [{"id": f"script-{k}", "title": t, "body": b} for k, (t, b, _) in SCRIPT_DOCS.items()]
    docs.append({"id": "nfd-pate", "title": NFD_TITLE, "body": NFD_BODY})
    docs.append({"id": "nfc-crepes", "title": NFC_TITLE, "body": NFC_BODY})
    docs.append({"id": "en-1", "title": "Sourdough bread with a long fermentation",
                 "body": "Flour, water and salt become bread after a slow rise. The starter brings wild yeast."})
    return docs
