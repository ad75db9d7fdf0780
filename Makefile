# Every target bootstraps .venv from requirements-dev.txt when it is missing
# or older than the requirements files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEEDS ?= seeds
PORT ?= 8000
PYTEST_ARGS ?=
# DYNAMODB=1 also serves moto's DynamoDB on 127.0.0.1:$(MOTO_PORT) and turns on
# the redirect fallback (link index and click buffer) for `make run`.
DYNAMODB ?=
MOTO_PORT ?= 5005
RUN_WRAPPER := $(if $(filter 1,$(DYNAMODB)),$(PY) -m tools.localdynamodb --port $(MOTO_PORT) --)

.PHONY: run test lint format seeds clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip<26.3'  # chalice 1.34 needs pip<26.3
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## run: serve the API on 127.0.0.1:$(PORT), loading $(SEEDS) into an empty database
run: $(STAMP)
	$(RUN_WRAPPER) $(PY) -m tools.devserver --port $(PORT) --seeds $(SEEDS)

## test: run every test tier (unit, functional, integration, end-to-end)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## seeds: regenerate the repository's seed set (deterministic)
seeds: $(STAMP)
	$(PY) -m tools.generate_seeds seeds --seed 2026

clean:
	rm -rf $(VENV) .data .pytest_cache .ruff_cache out


# Deployment to AWS; docs/deploy.md explains each variable.
STAGE ?= dev
OUT ?= out
STACK ?= shortener-$(STAGE)
AWS ?= aws
ARTIFACT_BUCKET ?=
CFN_ROLE_ARN ?=
ALARM_EMAIL ?=
# chalice imports app.py while packaging, with the stage's variables from
# .chalice/config.json, and app.py checks the database settings at import.
# The stack supplies the real DATABASE_SECRET_ARN and DATABASE_HOST (SAM
# Globals in infra/template.yaml); these stand-ins only pass that check and
# never reach the template. Packaging makes no AWS API call.
PACKAGE_ENV := DATABASE_SECRET_ARN=arn:aws:secretsmanager:us-east-1:000000000000:secret:packaging \
	DATABASE_HOST=packaging.invalid \
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}

.PHONY: package deploy migrate

## package: write $(OUT)/$(STAGE)/sam.yaml and deployment.zip for STAGE (dev or prod)
package: $(STAMP)
	rm -rf $(OUT)/$(STAGE)
	$(PACKAGE_ENV) $(VENV)/bin/chalice package --stage $(STAGE) \
		--merge-template infra/template.yaml --template-format yaml $(OUT)/$(STAGE)

## deploy: package STAGE, upload it to ARTIFACT_BUCKET, update stack STACK, migrate
deploy: package
	@test -n "$(ARTIFACT_BUCKET)" || { echo "ARTIFACT_BUCKET is not set: name the S3 bucket that receives deployment packages (see docs/deploy.md)" >&2; exit 2; }
	$(AWS) cloudformation package --template-file $(OUT)/$(STAGE)/sam.yaml \
		--s3-bucket $(ARTIFACT_BUCKET) --s3-prefix $(STACK) \
		--output-template-file $(OUT)/$(STAGE)/packaged.yaml
	$(AWS) cloudformation deploy --template-file $(OUT)/$(STAGE)/packaged.yaml \
		--stack-name $(STACK) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		--parameter-overrides Stage=$(STAGE) $(if $(ALARM_EMAIL),AlarmEmail=$(ALARM_EMAIL)) \
		$(if $(CFN_ROLE_ARN),--role-arn $(CFN_ROLE_ARN)) \
		--no-fail-on-empty-changeset
	$(MAKE) migrate STAGE=$(STAGE) STACK=$(STACK)

## migrate: apply pending schema migrations by invoking the stack's migrate function
# The read timeout exceeds the function's 300 s timeout, so the CLI never
# retries a migration that is still running.
migrate:
	mkdir -p $(OUT)
	fn=$$($(AWS) cloudformation describe-stacks --stack-name $(STACK) \
		--query "Stacks[0].Outputs[?OutputKey=='MigrateFunctionName'].OutputValue" \
		--output text) && \
	error=$$($(AWS) lambda invoke --function-name "$$fn" --payload '{}' \
		--cli-binary-format raw-in-base64-out --cli-read-timeout 330 \
		--query FunctionError --output text $(OUT)/migrate-$(STAGE).json) && \
	cat $(OUT)/migrate-$(STAGE).json && echo && \
	test "$$error" = "None"


# Benchmarks; docs/benchmarks.md lists what each one measures.
.PHONY: bench

## bench: run every benchmark (under 10 minutes) and rewrite docs/benchmarks.md
bench: $(STAMP)
	$(PY) -m bench.run
