# Assembles docs/reproductions.md from docs/reproductions/NAME.md (the tables as `samlab reproduce`
# wrote them, copied unchanged) and docs/reproductions/NAME.reading.md (what the numbers show beside
# the paper's claim, written by hand after each run). `python3 scripts/reproductions.py` from the
# repository root, after a `samlab reproduce NAME` and an updated reading.
import os
ORDER = [
  ('label-noise', 'Label noise', None),
  ('rho-sweep', 'ρ sweep', None),
  ('late-phase', 'Late-phase SAM', None),
  ('curvature', 'λ_max and tr(H), SGD vs SAM', None),
  ('efficiency', 'Cost against accuracy for the efficient variants', None),
  ('m-sharpness', 'm-sharpness', None),
  ('asam-invariance', "ASAM's scale invariance", None),
  ('ood', 'Out-of-distribution robustness (MNIST-C style shifts)', None),
  ('gradual-da', 'Gradual domain adaptation on rotating MNIST', None),
  ('gradual-da-lenet', 'Gradual domain adaptation with LeNet-5', 'gradual-da --model lenet'),
  ('repetition', 'Repetition: one pass against many epochs', None),
]
READING = {k: open(f'docs/reproductions/{k}.reading.md').read().strip() if os.path.exists(f'docs/reproductions/{k}.reading.md') else None for k, _, _ in ORDER}
out = ["""# Reproductions: the seed papers' claims, as this project ran them

Every table below is what `samlab reproduce NAME --seeds 3` wrote into `docs/reproductions/NAME.md`
(with its plot `NAME.svg` and every run in `NAME.json`), copied here unchanged, followed by what the
numbers show beside the paper's claim. Cells are mean ± sample standard deviation over seeds 0, 1
and 2 (each seed sets the initial weights, the batch order and the label noise). "final" is the test
accuracy after the last epoch, "best" the best of the evaluations after every epoch.

Setting (all experiments unless a table says otherwise): MLP 784-128-10 (ReLU), momentum SGD
(μ 0.9) at lr 0.05, batch 128, constant learning rate; data: the embedded MNIST (8,000 train /
2,000 test, stratified) or a stratified Fashion-MNIST subset (800 train and 200 test images per
class), both on the native engine (Vulkan on llvmpipe, a 2-core CPU shared with other jobs, so the
seconds are noisy). These are small models and small data: where a claim comes from ResNets on
CIFAR, the question here is whether its direction shows at this scale, and we say where it does not.

On the page, "Experiment" under Compare runs has a one-click preset for each of them: it fills A
and the compared runs with the same comparison at one setting (e.g. 40% label noise; rotated and
noisy test digits through the "Test images" setting; self-training through 15°, 30°, 45° and 60°
against four rounds at 60° through "Gradual domains"; 500 Fashion-MNIST images for 40 epochs
through "Training images per class" against 20,000 seen once), and for ASAM's invariance it sets up the run and the
sharpness panel's "at layer 1 ×" factor, with which Measure now rescales the probe's copy of the
weights. The CLI runs the full grids over seeds; a stopped grid goes on with `--resume`.
"""]
for key, title, extra in ORDER:
    path = f'docs/reproductions/{key}.md'
    command = extra or key
    out.append(f'\n## {title} (`samlab reproduce {command}`)\n')
    if not os.path.exists(path):
        out.append('\nNot run yet in this project: `samlab reproduce ' + key + ' --seeds 3` produces it.\n')
        continue
    text = open(path).read().split('\n', 1)[1].strip()  # without its "## name" line
    out.append('\n' + text + '\n')
    if os.path.exists(f'docs/reproductions/{key}.svg') and os.path.getsize(f'docs/reproductions/{key}.svg') > 0:
        out.append(f'\nPlot: [`reproductions/{key}.svg`](reproductions/{key}.svg).\n')
    if READING[key]:
        out.append('\n**What it shows.** ' + READING[key] + '\n')
open('docs/reproductions.md', 'w').write(''.join(out))
