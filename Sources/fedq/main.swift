import FedqCLI

await Fedq.main()
