# Masar: the two commands a newcomer needs are `make run` and `make test`.

export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export TEST_REDIS_URL ?= redis://127.0.0.1:6379

.PHONY: run build test services lint fmt bench chaos k8s clean

## Build, start the embedded suite (SQLite + in-process queue) with the demo
## data of Nuzul and Hayat, and print how to try it.
run: build
	./target/debug/masar dev

build:
	cargo build --bin masar

## Every test, against real PostgreSQL and Redis (started or installed if needed),
## then a short `masar chaos` (each fault once, a few dozen filings).
test: services
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --workspace --no-fail-fast; \
	else \
		cargo test --workspace --no-fail-fast; \
	fi
	cargo build --bin masar
	RUST_LOG=error ./target/debug/masar chaos --requests 40 --concurrency 4

## The distributed shape on its own PostgreSQL and Redis through every fault
## (kill -9 and SIGTERM of every role, Redis restarted and emptied, PostgreSQL
## restarted), two replicas of intake, verification and notification, 600
## filings by 8 front ends.
chaos: build
	RUST_LOG=error ./target/debug/masar chaos --requests 600 --concurrency 8

services:
	./scripts/services.sh

## Speed and memory of both shapes on a release build, each beside its limit:
## the embedded suite against the same writes straight on SQLite; every role
## its own process on PostgreSQL and Redis (started as for the tests) against
## pgbench with a filing's writes and the same stream hop straight on Redis;
## then the staff's reads on 1,000,000 seeded cases (PostgreSQL; 100,000 on
## SQLite) with each statement's plan. About 20 minutes on 2 cores.
bench: services
	cargo run --release --bin masar -- bench --requests 200 --concurrency 8 --scale 1000000

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

## Render the Kubernetes manifests (needs kubectl).
k8s:
	kubectl kustomize k8s/overlays/production

clean:
	cargo clean
	rm -rf data
