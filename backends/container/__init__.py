"""The workbench's algorithm image: the embedded emulator behind SageMaker's training-container contract.

- `train.py`     the entry point (`python -m backends.container train`), run by SageMaker local mode
- `recordio.py`  reads the RecordIO-protobuf training data the SDK writes, without the SDK
- `rootfs.py`    builds the image without any registry: a root filesystem for `docker import`
- `Dockerfile`   builds the image for users, FROM an official Python image
"""
