"""Published key lists of SDXL's two text encoders, built on the meta device (no weights):

  Tests/Fixtures/keys/clip_hf_vitl14_text_keys.txt      transformers CLIPTextModel, openai/clip-vit-large-patch14
                                                        (SDXL text_encoder): 196 tensors, as transformers 5
                                                        names them (no `text_model.` prefix; published files
                                                        and transformers 4 have it)
  Tests/Fixtures/keys/openclip_hf_bigg14_text_keys.txt  transformers CLIPTextModelWithProjection, SDXL text_encoder_2:
                                                        517 tensors
  Tests/Fixtures/keys/openclip_sgm_bigg14_text_keys.txt open_clip's TextTransformer as sd_xl_base_1.0.safetensors
                                                        stores it (conditioner.embedders.1.model.*, plus logit_scale)

Format: name<TAB>[d0, d1, ...]. Usage: python Tools/gen_clip_text_key_lists.py
"""
import os
import sys

import torch
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "keys")

from gen_clip_text_goldens import open_clip_text_transformer  # noqa: E402


def write(name, items, header):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(f"# {header}\n")
        for k, shape in items:
            f.write(f"{k}\t[{', '.join(str(d) for d in shape)}]\n")
    print(f"{name}: {len(items)} tensors, {sum(torch.Size(s).numel() for _, s in items)} values")


def main():
    TextTransformer = open_clip_text_transformer()
    with torch.device("meta"):
        l14 = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                           num_attention_heads=12, hidden_act="quick_gelu", projection_dim=768))
        bigg = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                                                          num_attention_heads=20, hidden_act="gelu", projection_dim=1280))
        oc = TextTransformer(context_length=77, vocab_size=49408, width=1280, heads=20, layers=32, output_dim=1280,
                             act_layer=torch.nn.GELU)
    write("clip_hf_vitl14_text_keys.txt", [(k, list(v.shape)) for k, v in l14.state_dict().items()],
          "transformers 5 CLIPTextModel (SDXL text_encoder), built on the meta device: no text_model. prefix (published files have it)")
    write("openclip_hf_bigg14_text_keys.txt", [(k, list(v.shape)) for k, v in bigg.state_dict().items()],
          "transformers CLIPTextModelWithProjection (SDXL text_encoder_2), built on the meta device")
    sgm = [("conditioner.embedders.1.model." + k, list(v.shape)) for k, v in oc.state_dict().items()]
    sgm.append(("conditioner.embedders.1.model.logit_scale", []))
    write("openclip_sgm_bigg14_text_keys.txt", sgm,
          "open_clip TextTransformer as sd_xl_base_1.0.safetensors stores it (FrozenOpenCLIPEmbedder2, visual tower deleted), built on the meta device")


if __name__ == "__main__":
    main()
