#!/usr/bin/env bash
# Bad inputs a new user might give: each case prints its exit code, whether a traceback showed, and the last line.
# A good answer is exit 2 with one line naming the option, file or field. Usage: bash bench/bad_input_probe.sh
S="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/simplex-train"
cd "$(mktemp -d)"
printf 'id,text,label\n1,"fine film",positive\n2,"bad film",negative\n' > tiny.csv
printf '\xef\xbb\xbfsentence\tlabel\nok\t1\n' > bom.tsv
: > empty.jsonl
printf '{"text": "a", "label": "positive"}\n[1,2]\n' > arr.jsonl
printf 'name: t\ntask: {type: classification, labels: [a, a]}\ndata: {path: x.tsv}\nthresholds: {baseline_target: 0.5, finetuned_target: 0.8}\n' > duplabels.yaml
printf 'name: t\ntask: {type: classification, labels: [a, b]}\ndata: {path: x.tsv}\nthresholds: {baseline_target: 0.9, finetuned_target: 0.8}\n' > targets.yaml
printf 'name: ../../etc\ntask: {type: classification, labels: [a, b]}\ndata: {path: x.tsv}\nthresholds: {baseline_target: 0.5, finetuned_target: 0.8}\n' > traversal.yaml
printf 'name: t\ntask: {type: classification, labels: [a, b]}\ndata: {path: x.tsv}\nthresholds: {baseline_target: 0.5, finetuned_target: 0.8}\nprompt: {template: "{text}", engine: jinja}\n' > engine.yaml
probe() { name=$1; shift; out=$(timeout 120 "$@" 2>&1); rc=$?; tb=$(echo "$out" | grep -c "Traceback"); echo "$name | rc=$rc | traceback=$tb | $(echo "$out" | grep -v '^\s*$' | tail -1 | cut -c1-200)"; }
probe "01 --max-train 0" $S run sentiment --max-train 0 --no-notebook --runs-root r
probe "02 --max-test -3" $S run sentiment --max-test -3 --no-notebook --runs-root r
probe "03 --data is a folder with nothing" $S run sentiment --data $PWD/r --no-notebook --runs-root r --local-test
probe "04 --run-id with a slash" $S run sentiment --run-id a/b --no-notebook --runs-root r
probe "05 unknown --set key" $S run sentiment --set train.lerning_rate=1 --no-notebook --runs-root r
probe "06 --set a negative lr" $S run sentiment --set train.learning_rate=-1 --no-notebook --runs-root r
probe "07 show a directory" $S show /tmp
probe "08 duplicate labels" $S show duplabels.yaml
probe "09 baseline target above fine-tuned" $S show targets.yaml
probe "10 a name with ../" $S show traversal.yaml
probe "11 predict a run that does not exist" $S predict $PWD/nope "hello"
probe "12 evaluate with a missing --data" $S evaluate $PWD/nope --data none.csv --name x
probe "13 predict --input an empty file" $S predict $PWD/nope --input empty.jsonl
probe "14 compare with one run" $S compare $PWD/nope
probe "15 batch with an unknown specialist" $S batch sentimint --local-test
probe "16 rollback a specialist never promoted" $S rollback sentiment --runs-root $PWD/r
probe "17 promote a folder that is not a run" $S promote /tmp
probe "18 serve a missing gguf" $S serve /tmp/none.gguf
probe "19 cloud plan an unknown instance" $S cloud plan sentiment --instance zz.huge
probe "20 label with a missing filter" $S label sample $PWD/nofilter --input tiny.csv
probe "21 generate a missing campaign" $S generate $PWD/none.yaml --out o
probe "22 --data a JSONL with an array line" $S run sentiment --data arr.jsonl --no-notebook --runs-root r --local-test
probe "23 --base-model a missing folder" $S run sentiment --base-model $PWD/nomodel --no-notebook --runs-root r --local-test
probe "24 jinja engine with a format template" $S show engine.yaml
