"""Fixtures for irzoo's CLIP BPE tokenizer: the token ids transformers' CLIPTokenizer (the
`tokenizers` backend diffusers uses for SDXL's `tokenizer` and `tokenizer_2`) gives a few hundred
strings, built from the BPE file open_clip_torch ships (`bpe_simple_vocab_16e6.txt.gz`).

The vocabulary is derived from that file the way open_clip (and OpenAI's CLIP) do it: the 256
byte symbols, the same with `</w>`, one symbol per merge (the first 49152 - 256 - 2 merge lines
after the version header), then <|startoftext|> 49406 and <|endoftext|> 49407. That is the
vocab.json / merges.txt pair of openai/clip-vit-large-patch14.

Writes Tests/Fixtures/tokenizer/:
  bpe_simple_vocab_16e6.txt.gz   a copy of open_clip's file (1.3 MB)
  cases.json                     [{text, ids (no truncation, no padding, BOS/EOS added),
                                   padded_eos (77, truncated, padded with 49407: SDXL tokenizer),
                                   padded_zero (77, padded with "!" = 0: SDXL tokenizer_2)}]
open_clip's SimpleTokenizer (ftfy-based cleaning, pad 0) is compared with padded_zero and the
agreement printed (308 of 354 with open_clip_torch 3.3); irzoo follows transformers.

Usage: python Tools/gen_clip_tokenizer_fixtures.py  (deterministic: fixed seed)
"""
import gzip
import importlib.util
import json
import os
import random
import shutil

from transformers import CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "tokenizer")
# open_clip's package __init__ needs torchvision (not installed): load its tokenizer module alone.
OPEN_CLIP = importlib.util.find_spec("open_clip").submodule_search_locations[0]
_spec = importlib.util.spec_from_file_location("open_clip_tokenizer", os.path.join(OPEN_CLIP, "tokenizer.py"))
open_clip_tokenizer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(open_clip_tokenizer)
SimpleTokenizer, bytes_to_unicode = open_clip_tokenizer.SimpleTokenizer, open_clip_tokenizer.bytes_to_unicode
BPE = os.path.join(OPEN_CLIP, "bpe_simple_vocab_16e6.txt.gz")


def hf_tokenizer(pad_token):
    lines = gzip.open(BPE).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    byte_symbols = list(bytes_to_unicode().values())
    vocab = byte_symbols + [s + "</w>" for s in byte_symbols] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={s: i for i, s in enumerate(vocab)}, merges=merges, pad_token=pad_token)


HAND = [
    "", " ", "   \t\n  ", "a", "A", "a photo of a cat", "A Photo Of A CAT!!!",
    "high quality, detailed, 8k, sharp focus", "remove the rain streaks from this image",
    "a hazy, low-light photograph of a city at night, noisy and blurry",
    "it's", "IT'S", "we're they've I'm you'll he'd don't", "rock'n'roll", "'s 't 're", "''quoted''",
    "3.14159", "1234567890", "2024-01-01T12:00:00Z", "$1,000,000.00", "50% off", "#hashtag @user",
    "e-mail: someone@example.com", "https://example.com/path?q=1&r=2", "C++ / C# / F#", "x^2 + y^2 = z^2",
    "café", "cafe\u0301", "naïve résumé", "Ångström", "ÆØÅ æøå", "Straße", "İstanbul", "ΣΊΣΥΦΟΣ", "Ὀδυσσεύς",
    "Привет, мир!", "Γειά σου Κόσμε", "שלום עולם", "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีชาวโลก",
    "你好，世界", "日本語のテキスト", "한국어 텍스트", "漢字かなカナ混じり文", "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ１２３",
    "😀", "I ❤️ NY", "👨‍👩‍👧‍👦 family", "🏳️‍🌈", "👍🏽 thumbs", "🇫🇷🇩🇪", "emoji😀in😀words",
    "tab\tseparated\tvalues", "line\nbreaks\r\nand\rreturns", "no\u00a0break\u00a0space", "ideographic\u3000space",
    "zero\u200bwidth\u200bspace", "soft\u00adhyphen", "em—dash – en-dash", "“smart quotes” ‘single’", "…ellipsis…",
    "<html> &amp; &lt;tags&gt;", "<|startoftext|>", "<|endoftext|>", "a<|endoftext|>b", "<|ENDOFTEXT|>",
    "١٢٣ ٤٥٦", "Ⅻ roman Ⅳ", "½ ¾ ²³", "①②③", "𝒳𝒴𝒵 math", "ℌello", "ﬁne ﬂow", "\u0000null", "\u007fdel",
    "MiXeD CaSe WoRdS", "snake_case_identifier", "camelCaseIdentifier", "kebab-case-identifier",
    "!!!???...,,,;;;:::", "((((nested))))", "[brackets] {braces} <angles>", "~`|\\/", "\"double\" 'single'",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "the " * 100, "word " * 74, "word " * 75, "word " * 76,
    " ".join(str(i) for i in range(60)),
    "masterpiece, best quality, ultra-detailed, photorealistic, 8k uhd, dslr, soft lighting, film grain, "
    "Fujifilm XT3, sharp focus, depth of field, bokeh, cinematic, volumetric lighting, golden hour, "
    "highly detailed skin texture, intricate details, award winning photograph",
]

POOLS = [
    "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " " * 8 + "\t\n",
    ".,;:!?'\"-_()[]{}<>/\\|@#$%^&*+=~`", "àáâãäåçèéêëìíîïñòóôõöùúûüýÿœßøđłž", "ÀÉÎÕÜÇÑŒØ",
    "αβγδεζηθλμπσςτφχψωΑΒΓΔΣΩ", "абвгдеёжзийклмнопрстуфхцчшщыэюяАБВЖЯ", "的一是不了人我在有他这中大来上国个到说们",
    "あいうえおかきくけこアイウエオカキ", "가나다라마바사아자차", "\u0301\u0308\u0327\u0303", "😀😂🥲🤖👍🏽❤️🔥✨🎉🌍",
    "\u200d\ufe0f\u00a0\u3000\u2009\u200b", "٠١٢٣٤٥٦٧٨٩", "ⅠⅡⅢ½¼²³①", "ﬁﬂＡＢＣａｂｃ１２３",
]


def random_strings(n, seed=8):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        length = rng.choice([1, 2, 3, 5, 8, 13, 21, 34, 60, 120, 300])
        pools = rng.sample(POOLS, rng.randint(1, 4))
        s = "".join(rng.choice(rng.choice(pools)) for _ in range(length))
        out.append(s)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    shutil.copyfile(BPE, os.path.join(OUT, "bpe_simple_vocab_16e6.txt.gz"))
    eos_pad = hf_tokenizer("<|endoftext|>")
    zero_pad = hf_tokenizer("!")
    assert zero_pad.pad_token_id == 0 and eos_pad.pad_token_id == 49407
    oc = SimpleTokenizer(BPE)
    cases = []
    same = 0  # open_clip is only compared here, for the docs
    for text in HAND + random_strings(260):
        ids = eos_pad(text)["input_ids"]
        a = eos_pad(text, padding="max_length", max_length=77, truncation=True)["input_ids"]
        b = zero_pad(text, padding="max_length", max_length=77, truncation=True)["input_ids"]
        c = oc([text])[0].tolist()
        cases.append(dict(text=text, ids=ids, padded_eos=a, padded_zero=b))
        same += b == c
    print(f"{len(cases)} strings; open_clip agrees with transformers (pad 0) on {same}")
    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(dict(source="transformers CLIPTokenizer (tokenizers backend) from open_clip's bpe_simple_vocab_16e6.txt.gz",
                       cases=cases), f, ensure_ascii=True, separators=(",", ":"))


if __name__ == "__main__":
    main()
