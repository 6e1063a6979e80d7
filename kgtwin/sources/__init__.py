"""What comes into the twin: IFC models, schedules, sensor registries."""
