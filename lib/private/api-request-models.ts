// JSON schemas for the REST API's request validator: the shape checks the runtime makes
// first (runtime/src/tasks/tensor.ts), no stricter, so malformed JSON bodies are refused
// at the gateway without invoking (and paying for) the function. Only application/json
// bodies are checked: images, multipart and CSV go to the runtime as they are.
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { RouteBody } from './api-defaults';

/** TF Serving REST predict: an object with exactly one of "instances" (a list) or "inputs". */
const PREDICT: apigw.JsonSchema = {
  schema: apigw.JsonSchemaVersion.DRAFT4,
  title: 'TFServingPredictRequest',
  type: apigw.JsonSchemaType.OBJECT,
  properties: {
    instances: { type: apigw.JsonSchemaType.ARRAY },
    signature_name: { type: apigw.JsonSchemaType.STRING },
  },
  oneOf: [{ required: ['instances'] }, { required: ['inputs'] }],
};

/** KServe V2 infer: a non-empty "inputs" list of {name, shape, datatype, data}. */
const INFER: apigw.JsonSchema = {
  schema: apigw.JsonSchemaVersion.DRAFT4,
  title: 'KServeV2InferRequest',
  type: apigw.JsonSchemaType.OBJECT,
  required: ['inputs'],
  properties: {
    inputs: {
      type: apigw.JsonSchemaType.ARRAY,
      minItems: 1,
      items: {
        type: apigw.JsonSchemaType.OBJECT,
        required: ['name', 'shape', 'datatype', 'data'],
        properties: {
          name: { type: apigw.JsonSchemaType.STRING },
          shape: { type: apigw.JsonSchemaType.ARRAY },
          datatype: { type: apigw.JsonSchemaType.STRING },
        },
      },
    },
  },
};

/** The request models of one API, created on first use. */
export class RequestModels {
  private readonly models = new Map<RouteBody, apigw.Model>();

  public constructor(private readonly api: apigw.RestApi) {}

  /** The `requestModels` of a method whose body is `body`, or undefined when the runtime checks it alone. */
  public for(body: RouteBody): Record<string, apigw.IModel> | undefined {
    const schema = body === RouteBody.PREDICT ? PREDICT : body === RouteBody.INFER ? INFER : undefined;
    if (!schema) return undefined;
    let model = this.models.get(body);
    if (!model) {
      model = this.api.addModel(schema.title!, { contentType: 'application/json', schema, description: `${schema.title} (checked at the gateway)` });
      this.models.set(body, model);
    }
    return { 'application/json': model };
  }
}
