"""What crosses the layers, written once: names, shapes and thresholds that two or more of training/,
functions/, infra/ and the CLI must agree on (a metric name the API emits and an alarm watches, a route
API Gateway leaves public and the app serves keyless, a line training prints and SageMaker parses).

Each module here imports nothing of the project but other contracts; nothing imports this package's
`__init__`, so a consumer loads only the contract it names (the rotation Lambda ships one file of it).
"""
