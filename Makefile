# rathausbot: `make run` starts the assistant, `make test` runs every test.
# Both set up what they need first and skip what is already up to date.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help setup setup-test train run test test-fast lint nlu-eval bench doctor clean

help:
	@echo "make run        set up, train if needed, start the assistant on http://127.0.0.1:8080/"
	@echo "make test       set up (with test tools), train if needed, lint, run all tests"
	@echo "make test-fast  the tests without the slow end-to-end ones"
	@echo "make train      train the Rasa model if intents/ changed"
	@echo "make bench      print latency, throughput and memory figures"
	@echo "make lint       ruff and mypy --strict"
	@echo "make nlu-eval   intent F1 on the held-out NLU sets (German below 0.95, English below 0.92 fail)"
	@echo "make doctor     check the installation"

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

train: setup
	@echo "==> Checking the Rasa model"
	@$(BIN)/rathausbot train

run: setup train
	@echo "==> Starting rathausbot (Ctrl+C stops it)"
	@$(BIN)/rathausbot serve

lint: setup-test
	@echo "==> Linting (ruff, mypy --strict)"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check rathausbot dialogue channels voice telephony console contract intents/actions tests bench
	@$(BIN)/mypy
	@echo "==> Type-checking the action server (intents/actions) against .venv-rasa, Python 3.10"
	@$(BIN)/mypy --strict --python-version 3.10 --python-executable .venv-rasa/bin/python -p contract -p intents.actions

nlu-eval: setup train
	@echo "==> Evaluating the NLU model on the German held-out set (intents/tests/nlu_holdout.yml)"
	@$(BIN)/python scripts/nlu_eval.py --min-f1 0.95
	@echo "==> Evaluating the NLU model on the English held-out set (intents/tests/nlu_holdout_en.yml)"
	@$(BIN)/python scripts/nlu_eval.py --min-f1 0.92 --holdout tests/nlu_holdout_en.yml

test: setup-test train lint nlu-eval
	@echo "==> Running all tests (unit and end-to-end against real Redis and Rasa)"
	@$(BIN)/python -m pytest

test-fast: setup-test
	@$(BIN)/python -m pytest -m "not slow"

bench: setup train
	@echo "==> Benchmark: chat turn latency through DialogueCore vs. Rasa's REST webhook"
	@$(BIN)/python -m bench.chat_latency
	@echo "==> Benchmark: voice (ASR, TTS, end of speech to first reply audio, memory)"
	@$(BIN)/python -m bench.voice
	@echo "==> Benchmark: batched recognition vs. one by one on this machine's ASR device (asr_batch)"
	@$(BIN)/python -m bench.asr_batch
	@echo "==> Benchmark: degraded telephone audio (noise, tempo, level, silence, u-law, loss): intent accuracy"
	@$(BIN)/python -m bench.degraded
	@echo "==> Benchmark: web chat channel (/ws/chat) vs. DialogueCore, throughput, memory"
	@$(BIN)/python -m bench.webchat
	@echo "==> Benchmark: SIP messages parsed and serialised per second"
	@$(BIN)/python -m bench.sip
	@echo "==> Benchmark: RTP media (G.711, packetisation, CPU per call-second)"
	@$(BIN)/python -m bench.rtp
	@echo "==> Benchmark: calls over SIP (voice turn latency vs. offline, concurrent calls, CPU per call)"
	@$(BIN)/python -m bench.sip_calls
	@echo "==> Benchmark: chat turns per second and p95 straight to Rasa, one server vs. two pinned"
	@$(BIN)/python -m bench.rasa_scaleout
	@echo "==> Benchmark: chat through gateways, one vs. two (and Rasa servers); 1,000 idle + 300 active sessions held"
	@$(BIN)/python -m bench.chat_scaleout
	@echo "==> Benchmark: browser calls over WebRTC (answer time, CPU per call with Opus both ways)"
	@$(BIN)/python -m bench.webrtc
	@echo "==> Benchmark: browser calls with the real engines (first audio vs. SIP line, concurrent calls)"
	@$(BIN)/python -m bench.webrtc_calls

doctor: setup
	@$(BIN)/rathausbot doctor

clean:
	rm -rf $(VENV) .venv-rasa intents/models .mypy_cache .ruff_cache .pytest_cache
