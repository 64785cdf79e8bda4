#!/usr/bin/env bash
# SkyPilot (managed spot jobs; pick one instance's tasks):
# sky jobs launch -y skypilot/sentiment-g4dn.xlarge.yaml
# sky jobs launch -y skypilot/context_protocol-g4dn.xlarge.yaml
# sky jobs launch -y skypilot/sentiment-g5.xlarge.yaml
# sky jobs launch -y skypilot/context_protocol-g5.xlarge.yaml
# SageMaker:
# aws sagemaker create-training-job --cli-input-json file://sagemaker/sentiment-g4dn.xlarge.json
# aws sagemaker create-training-job --cli-input-json file://sagemaker/context_protocol-g4dn.xlarge.json
# aws sagemaker create-training-job --cli-input-json file://sagemaker/sentiment-g5.xlarge.json
# aws sagemaker create-training-job --cli-input-json file://sagemaker/context_protocol-g5.xlarge.json
