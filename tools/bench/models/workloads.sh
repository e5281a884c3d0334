# The workloads of run.sh and vulkan.sh, sourced by both: their checkpoints, sequence lengths and
# `loom bench` arguments, and the random-weight checkpoints they run on. Needs WORK, HERE, PYTHON,
# WORKLOADS and a die() function.
SEQ=128
PAST=128
CLIP_SEQ=77  # CLIP's text tower: its whole position table, as texts padded to max_length give

check_workloads() {
  local w
  for w in $WORKLOADS; do
    case $w in bert | gpt2-prompt | gpt2-decode | vit | clip-image | clip-text) ;; *) die "unknown workload '$w' in WORKLOADS" ;; esac
  done
}
ckpt() { case $1 in bert) echo bert ;; gpt2-*) echo gpt2 ;; vit) echo vit ;; clip-*) echo clip ;; esac; }
seq_of() { case $1 in clip-text) echo $CLIP_SEQ ;; *) echo $SEQ ;; esac; }
vocab() { case $1 in bert) echo 30522 ;; gpt2-*) echo 50257 ;; clip-text) echo 49408 ;; *) echo 0 ;; esac; }
loom_args() {  # workload
  case $1 in
    bert) echo "$WORK/bert --seq $SEQ" ;;
    gpt2-prompt) echo "$WORK/gpt2 --seq $SEQ" ;;
    gpt2-decode) echo "$WORK/gpt2 --decode 1 --past $PAST" ;;
    vit) echo "$WORK/vit --task image-classification" ;;
    clip-image) echo "$WORK/clip --task image-feature-extraction" ;;
    clip-text) echo "$WORK/clip --task feature-extraction --seq $CLIP_SEQ" ;;
  esac
}

# The checkpoints of $WORKLOADS, made where missing; sets `checkpoints`.
make_checkpoints() {
  local m f
  checkpoints=$(for w in $WORKLOADS; do ckpt "$w"; done | sort -u)
  for m in $checkpoints; do
    if [[ ! -f $WORK/$m/model.safetensors ]]; then
      echo "== random-weight $m checkpoint in $WORK/$m"
      "$PYTHON" "$HERE/../make_random_checkpoint.py" "$m" "$WORK/$m" >/dev/null
    fi
  done
  # BERT's fill-mask graph needs a tokenizer with a [MASK] token: the small one of the tests does
  # (the generated ids then come from its 64 words, which changes no timing).
  if [[ -d $WORK/bert ]]; then
    for f in vocab.txt tokenizer_config.json; do
      [[ -f $WORK/bert/$f ]] || cp "$HERE/../../../tests/models/bert-mlm/$f" "$WORK/bert/$f"
    done
  fi
}
